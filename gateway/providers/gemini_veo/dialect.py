"""Adapter for Google Veo on the Gemini API (a long-running operation per video).

``POST {base}/models/{model}:predictLongRunning`` (body: :mod:`.wire`) answers an operation
``{"name": "models/{model}/operations/{id}"}``; that name, verbatim, is the upstream id, polled at
``GET {base}/{name}`` until ``done``; the video is then fetched from the file URI it names
(:mod:`.download`). ``base`` is ``https://generativelanguage.googleapis.com/v1beta`` (a bare host,
or ``…/v1``, gets ``/v1beta``: Veo is only there); the key goes in the ``x-goog-api-key`` header.

What the Gemini API lacks, the adapter does without: no client token (a create whose answer was lost
cannot be found again, and there is no usable listing: ``lists = False``, so such a create is never
re-sent blind), no cancel or delete (``delete`` is a no-op: a running generation is paid for), no
progress (``in_progress`` until done), no thumbnail (404). Docs: https://ai.google.dev/gemini-api/docs/video,
https://ai.google.dev/api/models#method:-models.predictlongrunning, https://ai.google.dev/gemini-api/docs/pricing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cachetools import LRUCache

from gateway.providers.gemini_veo.download import fetch
from gateway.providers.gemini_veo.errors import error_from_response
from gateway.providers.gemini_veo.wire import create_body, inline_video, parse_operation
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp

API_VERSION = "v1beta"
RESULTS_MAX = 10_000  # remembered operation -> file URI (an LRU; a forgotten one is polled again)
INLINE_MAX = 4  # remembered inline videos (not seen on the Gemini API; kept so a paid one is not lost)
MODELS_PAGE = 1000


def veo_base(url: str) -> str:
    """The API base for a configured URL: as given when it ends in ``/v1beta``; ``…/v1`` -> ``…/v1beta``;
    otherwise ``/v1beta`` is appended."""
    parts = urlsplit(url.rstrip("/"))
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path.removesuffix("v1") + API_VERSION
    elif not path.endswith("/" + API_VERSION):
        path = f"{path}/{API_VERSION}"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(502, "Veo answered something other than JSON.", code="upstream_error") from None


class GeminiVeoUpstream(HttpAdapter):
    """Speaks Veo's ``predictLongRunning`` and operations to a Gemini API base URL."""

    name = "veo"
    title = "Google Veo"  # in refusals: "not offered by the Google Veo upstream"
    # The Gemini API has no moderation endpoint for Veo (its safety filter acts on each generation)
    # Not used: Veo enhances prompts itself (``enhancePrompt``), which the create sends when asked
    lists = False

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = veo_base(base_url)
        self.http = http or UpstreamHttp(
            self.base_url, {"x-goog-api-key": api_key}, upstream=self.name, errors=error_from_response
        )
        # signed storage URLs are fetched by a client that holds no key at all
        self.storage = UpstreamHttp("", {}, upstream=self.name, errors=error_from_response)
        self._uris: LRUCache[str, str] = LRUCache(maxsize=RESULTS_MAX)
        self._inline: LRUCache[str, bytes] = LRUCache(maxsize=INLINE_MAX)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        body = await create_body(spec)
        path = f"/models/{spec.model}:predictLongRunning"
        response = await self.http.request("POST", path, operation="create", json=body)
        video = self._remember(_json(response))
        if video.status == "in_progress":
            video.status = "queued"  # just accepted (Veo tells no queue from running)
        return video

    def _remember(self, data: Any) -> UpstreamVideo:
        if not isinstance(data, dict):
            raise UpstreamError(502, "Veo answered something other than an operation.", code="upstream_error")
        video = parse_operation(data)
        if "uri" in video.content_ids:
            self._uris[video.id] = video.content_ids["uri"]
        elif "inline" in video.content_ids:
            raw = inline_video(data)
            if raw is not None:
                self._inline[video.id] = raw
        return video

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        if "/operations/" not in upstream_id:
            raise UpstreamError(404, f"{upstream_id!r} is not a Veo operation.", code="not_found")
        response = await self.http.request("GET", f"/{upstream_id}", operation="retrieve")
        return self._remember(_json(response))

    async def delete(self, upstream_id: str) -> None:
        """Veo operations cannot be cancelled or deleted (a video expires after 2 days): forget it here."""
        self._uris.pop(upstream_id, None)
        self._inline.pop(upstream_id, None)

    async def list_models(self) -> list[dict[str, Any]]:
        """``GET {base}/models``: the models that take ``predictLongRunning`` (free: also the health probe)."""
        response = await self.http.request("GET", "/models", operation="models", params={"pageSize": MODELS_PAGE})
        found = []
        listed = _json(response)
        for model in (listed.get("models") if isinstance(listed, dict) else None) or []:
            if isinstance(model, dict) and "predictLongRunning" in (model.get("supportedGenerationMethods") or []):
                ident = str(model.get("name", "")).removeprefix("models/")
                found.append({"id": ident, "object": "model", "owned_by": "google"})
        return found

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        if variant != "video":
            raise UpstreamError(404, f"Veo makes no {variant}.", code="not_found")
        uri = self._uris.get(upstream_id)
        if uri is None and upstream_id not in self._inline:
            video = await self.retrieve(upstream_id)
            if video.status != "completed":
                raise UpstreamError(404, f"Veo operation {upstream_id} has no video ({video.status}).")
            uri = self._uris.get(upstream_id)
        if uri is None:
            inline = self._inline.get(upstream_id)
            if inline is None:
                raise UpstreamError(502, f"Veo operation {upstream_id} names no video file.", code="upstream_error")
            return _bytes_stream(inline)
        return await fetch(self.http, self.storage, uri, range_header)

    async def close(self) -> None:
        await self.http.close()
        await self.storage.close()


def _bytes_stream(data: bytes) -> ContentStream:
    async def chunks() -> Any:
        yield data

    headers = {"content-type": "video/mp4", "content-length": str(len(data))}
    return ContentStream(status=200, headers=headers, chunks=chunks())
