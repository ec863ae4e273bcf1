"""Adapter for Luma's Agents API, video generation (``https://agents.lumalabs.ai/v1``, model ``ray-3.2``).

Docs: https://docs.agents.lumalabs.ai/guides/videos/generation/ (the create body), .../api/resources/generations/
methods/get (the Generation object), .../guides/error-handling/ (statuses, ``detail``, ``failure_code``),
.../guides/rate-limits/ (RPM and concurrency 429s, ``Retry-After``); the vendor SDK ``lumalabs/luma-agents-python``
v0.3.0 (``generation_create_params.py``, ``video_options_param.py``, ``image_ref_param.py``).

Every call carries ``Authorization: Bearer <key>``. A create is ``POST /v1/generations``::

    {"model": "ray-3.2", "type": "video", "prompt": "...", "aspect_ratio": "16:9",
     "video": {"resolution": "720p", "duration": "5s", "start_frame": {...}, "end_frame": {...}}}

(``duration`` a string with its ``s``; frames as ImageRefs, :mod:`.images`), answered 201 with a Generation
(``state: queued``). ``GET /v1/generations/{id}`` is polled (no callbacks, no listing, no delete); a completed
generation's ``output[].url`` is a presigned URL valid for one hour, downloaded WITHOUT the key; an expired one is
refreshed by one more GET of the generation.

Luma keeps no idempotency key and lists nothing: a create whose answer was lost cannot be found again, so the
gateway never re-sends it (the job fails ``upstream_outcome_unknown``). ``X-Request-Id`` (documented as echoed
for tracing only, nothing says it deduplicates) carries a UUID derived from the segment's key, for support cases.
"""

from __future__ import annotations

import uuid
from typing import Any

from cachetools import LRUCache

from gateway.providers.luma.answers import cdn_error, parse_generation, read_error
from gateway.providers.luma.images import image_ref
from gateway.providers.luma.table import ASPECTS, MAX_PROMPT, PROFILES, WIRE_MODEL
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp
from gateway.upstreams.signed import only_video, range_of, stream_signed, video_url_of

OUTPUTS_MAX = 10_000  # remembered generation -> output URL (an LRU; a forgotten one is retrieved again)
NIL_ID = "00000000-0000-0000-0000-000000000000"  # a generation no one has: the free health read
REQUEST_IDS = uuid.UUID("5b0c7f0e-4d0a-4a8e-9a51-6c756d610000")  # namespace of the X-Request-Id we derive


def luma_base(base_url: str) -> str:
    """The API base with its ``/v1`` (a bare ``https://agents.lumalabs.ai`` gets it added)."""
    base = base_url.rstrip("/")
    _, _, rest = base.partition("://")
    return base if "/" in rest else f"{base}/v1"


def request_id(idempotency_key: str) -> str:
    return str(uuid.uuid5(REQUEST_IDS, idempotency_key))


class LumaUpstream(HttpAdapter):
    """Speaks Luma's generations API; one output video per generation."""

    name = "luma"
    title = "Luma"  # in refusals: "not offered by the Luma upstream"
    # Luma has no moderation endpoint (it fails a generation with ``content_moderated``)
    lists = False  # no listing endpoint: no status sweep, no reconciliation of a lost create
    callbacks = False  # no callback_url, no webhooks

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = luma_base(base_url)
        headers = {"Authorization": f"Bearer {api_key}"}
        self.http = http or UpstreamHttp(self.base_url, headers, upstream=self.name, errors=read_error)
        # the presigned output host: no Luma header at all (the URL carries its own signature)
        self.cdn = UpstreamHttp("", {}, upstream=self.name, errors=cdn_error)
        self.cdn.client.follow_redirects = True
        self._outputs: LRUCache[str, str] = LRUCache(maxsize=OUTPUTS_MAX)

    async def body(self, spec: GenerationSpec) -> dict[str, Any]:
        """The JSON body of a create, in Luma's words; refuses what Luma would refuse, before sending."""
        if spec.kind != "create":
            raise UpstreamError(400, f"Luma has no {spec.kind} operation here.", code="unsupported_by_upstream")
        model = WIRE_MODEL.get(spec.model, spec.model)
        aspect = ASPECTS.get(spec.size)
        if aspect is None:
            raise UpstreamError(400, f"Luma makes no {spec.size} video.", code="invalid_value", param="size")
        if len(spec.prompt) > MAX_PROMPT:
            raise UpstreamError(
                400,
                f"Luma takes prompts of up to {MAX_PROMPT} characters; this one has {len(spec.prompt)} "
                "(with the gateway's clauses).",
                code="invalid_value",
                param="prompt",
            )
        ratio, resolution = aspect
        video: dict[str, Any] = {"resolution": resolution, "duration": f"{spec.seconds}s"}
        if spec.reference is not None:
            video["start_frame"] = await image_ref(spec.reference, "input_reference")
        if spec.last_frame is not None:
            video["end_frame"] = await image_ref(spec.last_frame, "last_frame")
        return {"model": model, "type": "video", "prompt": spec.prompt, "aspect_ratio": ratio, "video": video}

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        body = await self.body(spec)
        headers = {"X-Request-Id": request_id(spec.idempotency_key)} if spec.idempotency_key else None
        response = await self.http.request("POST", "/generations", operation="create", json=body, headers=headers)
        try:
            video = parse_generation(response.json())
        except (ValueError, KeyError, TypeError, AttributeError):  # a generation may exist: never re-sent blind
            raise UpstreamError(502, "Luma's create answer named no generation.") from None
        video.seconds, video.size, video.model = str(spec.seconds), spec.size, spec.model
        return video

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"/generations/{upstream_id}", operation="retrieve")
        try:
            video = parse_generation(response.json())
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UpstreamError(502, "Luma's answer was not a generation.") from None
        if "video" in video.content_ids:
            self._outputs[video.id] = video.content_ids["video"]
        return video

    async def delete(self, upstream_id: str) -> None:
        """Luma has no delete (nor cancel): the output URL is only forgotten here."""
        self._outputs.pop(upstream_id, None)

    async def _output_url(self, upstream_id: str) -> str:
        return video_url_of(await self.retrieve(upstream_id), f"Luma generation {upstream_id}")

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """The generation's video from its presigned URL; an expired URL is refreshed by one GET of the generation."""
        only_video(variant, "Luma")
        return await stream_signed(self.cdn, self._outputs, upstream_id, range_of(range_header), self._output_url)

    async def list_models(self) -> list[dict[str, Any]]:
        """The table's models, after one free read that proves the key and the host: ``GET /v1/generations/{nil}``
        (Luma lists no models; an unknown id is a 404, a bad key a 401)."""
        try:
            await self.http.request("GET", f"/generations/{NIL_ID}", operation="models")
        except UpstreamError as exc:
            if exc.status != 404:
                raise
        return [{"id": m, "object": "model", "owned_by": "luma"} for m in PROFILES["luma"].models]

    async def close(self) -> None:
        await self.http.close()
        await self.cdn.close()
