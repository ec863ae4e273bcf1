"""Adapter for ByteDance Seedance on BytePlus ModelArk (Ark's content-generation tasks).

Docs: docs.byteplus.com/en/docs/ModelArk/1520757 (create a video generation task), 1521309 (retrieve), the
list and cancel/delete pages beside them, 2291680 (Seedance 2.0 series), 1299023 (error codes); the
vendor SDK ``byteplus-sdk/byteplus-python-sdk-v2`` (``byteplussdkarkruntime/resources/content_generation``).

- ``POST {base}/contents/generations/tasks`` (body: :mod:`.wire`) answers ``{"id": "cgt-..."}``;
  ``GET {base}/contents/generations/tasks/{id}`` is the task; ``DELETE`` cancels a queued task or deletes a
  finished one's record. ``base`` is ``https://ark.ap-southeast.bytepluses.com/api/v3`` (a bare host gets
  ``/api/v3``); the key goes as ``Authorization: Bearer`` (the video APIs take an API key only).
- A succeeded task's ``content.video_url`` is a signed object-storage URL valid 24 h: fetched WITHOUT the
  key (a client that holds none); a refused one is looked up again once (the task may name a new URL).
- Ark POSTs the task object to a create's ``callback_url`` at every status change (no signature, no
  handshake): ``callbacks = True``, the gateway confirms each with one GET.
- Ark keeps no client token, and its tasks do not carry the prompt, so its listing cannot identify a lost
  create: ``lists = False`` (such a create fails ``upstream_outcome_unknown`` rather than be paid twice).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cachetools import LRUCache

from gateway.providers.ark_seedance.errors import cdn_error, read_error
from gateway.providers.ark_seedance.table import PROFILES
from gateway.providers.ark_seedance.wire import POLL_HINT_MS, create_body, parse_task
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp
from gateway.upstreams.signed import only_video, range_of, stream_signed, video_url_of

API_PATH = "/api/v3"
TASKS = "/contents/generations/tasks"
URLS_MAX = 10_000  # remembered task -> video URL (an LRU; a forgotten one is retrieved again)


def ark_base(url: str) -> str:
    """The API base for a configured URL: as given when it has a path (``…/api/v3``), else ``/api/v3`` added."""
    parts = urlsplit(url.rstrip("/"))
    path = parts.path.rstrip("/") or API_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(502, "Ark answered something other than JSON.", code="upstream_error") from None


class ArkSeedanceUpstream(HttpAdapter):
    """Speaks Ark's ``/contents/generations/tasks`` for the Seedance models."""

    name = "ark"
    title = "Ark Seedance"  # in refusals: "not offered by the Ark Seedance upstream"
    # Ark has no moderation endpoint for Seedance (it refuses a create, or fails a task)
    lists = False  # tasks carry no prompt and no client token: a lost create cannot be identified
    callbacks = True  # ``callback_url``: Ark POSTs the task at every status change

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = ark_base(base_url)
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.http = http or UpstreamHttp(self.base_url, headers, upstream=self.name, errors=read_error)
        # the result storage: no Ark header at all (the signed URL carries its own grant)
        self.cdn = UpstreamHttp("", {}, upstream=self.name, errors=cdn_error)
        self.cdn.client.follow_redirects = True
        self._urls: LRUCache[str, str] = LRUCache(maxsize=URLS_MAX)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        body = await create_body(spec)
        response = await self.http.request("POST", TASKS, operation="create", json=body)
        data = _json(response)
        task_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:  # a task may exist: retryable, so never re-sent blind
            raise UpstreamError(502, "Ark's create answer named no task.", code="upstream_error")
        return UpstreamVideo(
            id=task_id,
            status="queued",
            seconds=str(spec.seconds),
            size=spec.size,
            model=spec.model,
            poll_after_ms=POLL_HINT_MS,
        )

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"{TASKS}/{upstream_id}", operation="retrieve")
        video = parse_task(_json(response))
        if "video" in video.content_ids:
            self._urls[video.id] = video.content_ids["video"]
        return video

    async def delete(self, upstream_id: str) -> None:
        """``DELETE``: a queued task is cancelled, a finished one's record deleted (a running one cannot be:
        Ark refuses, and the generation is paid when it succeeds)."""
        self._urls.pop(upstream_id, None)
        try:
            await self.http.request("DELETE", f"{TASKS}/{upstream_id}", operation="delete")
        except UpstreamError as exc:
            if exc.status != 404:  # already gone
                raise

    async def _video_url(self, upstream_id: str) -> str:
        return video_url_of(await self.retrieve(upstream_id), f"Ark task {upstream_id}")

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """The task's video from its signed URL (no key sent there); Seedance makes no thumbnail or spritesheet."""
        only_video(variant, "Seedance")
        gone = f"Ark's video of task {upstream_id} is no longer there."  # Ark names the expired URL again (24 h)
        return await stream_signed(self.cdn, self._urls, upstream_id, range_of(range_header), self._video_url, gone)

    async def list_models(self) -> list[dict[str, Any]]:
        """The table's models, after one free read of the task list (page size 1): it proves the key and the
        host and starts nothing (the breaker's health probe)."""
        params = {"page_num": "1", "page_size": "1"}
        await self.http.request("GET", TASKS, operation="models", params=params)
        return [{"id": m, "object": "model", "owned_by": "bytedance"} for m in PROFILES["ark-seedance"].models]

    async def close(self) -> None:
        await self.http.close()
        await self.cdn.close()
