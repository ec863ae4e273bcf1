"""Adapter for MiniMax's video generation API, v1 (``https://api.minimax.io``; mainland ``https://api.minimaxi.com``).

Docs: platform.minimax.io/docs/api-reference/video-generation-intro, -t2v, -i2v (``POST /v1/video_generation``),
-query (``GET /v1/query/video_generation?task_id=``), file-management-retrieve (``GET /v1/files/retrieve?file_id=``);
new-api ``relay/channel/task/hailuo`` (the same three calls, in production).

Every call carries ``Authorization: Bearer <key>``; every answer carries ``base_resp`` (a refusal is usually
HTTP 200 with a non-zero ``status_code``: :mod:`.answers`). A create answers ``{"task_id", "base_resp"}``; the
task is queried (the id in the query string) until ``Success``, whose ``file_id`` is exchanged for
``file.download_url`` at ``/v1/files/retrieve``; that URL expires (one hour per third-party notes, UNVERIFIED), so
it is asked for when the video is fetched, and fetched WITHOUT the key. MiniMax deletes and cancels nothing.

The v2 surface (MiniMax-H3, :mod:`.wire_v2`, :mod:`.answers_v2`): ``POST /v2/video_generation`` answers
``{"task_id"}``, ``GET /v2/query/video_generation/{task_id}`` the task, whose ``content.url`` is the video (fetched
without the key; looked up again once when refused). Its refusals are real HTTP statuses with ``{"error":
{"message": "... (code)"}}``. The gateway's id of a v2 task is ``v2-<task_id>``, so a query goes to its surface.

Callbacks: a create may name ``callback_url``; MiniMax first POSTs ``{"challenge": "..."}`` there and sends the
task's status changes only if the same challenge comes back within 3 s (:meth:`callback_reply`), then POSTs
``{"task_id", "status", "file_id", "base_resp"}`` at each change (no signature): ``callbacks = True``, each
confirmed with one query.

MiniMax keeps no client token and lists no video tasks, so nothing can tell whether a create whose answer was
lost made a task: ``lists`` stays False, and such a create fails the job ``upstream_outcome_unknown`` rather than
be paid twice.
"""

from __future__ import annotations

from typing import Any

import httpx
from cachetools import LRUCache

from gateway.providers.minimax_hailuo.answers import (
    cdn_error,
    checked,
    created_task,
    download_url,
    parse_task,
    read_error,
)
from gateway.providers.minimax_hailuo.answers_v2 import lost_if_unknown, parse_task_v2
from gateway.providers.minimax_hailuo.table import OFFERS, PROFILES
from gateway.providers.minimax_hailuo.wire import create_body
from gateway.providers.minimax_hailuo.wire_v2 import create_body_v2
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp
from gateway.upstreams.signed import only_video, range_of, stream_signed, video_url_of

CREATE_PATH = "/v1/video_generation"
QUERY_PATH = "/v1/query/video_generation"
FILE_PATH = "/v1/files/retrieve"
V2_CREATE, V2_QUERY, V2_PREFIX = "/v2/video_generation", "/v2/query/video_generation", "v2-"
FILES_MAX = 10_000  # remembered task -> file_id or v2 URL (an LRU; a forgotten one is queried again)


def minimax_base(base_url: str) -> str:
    """The API origin: a configured ``…/v1`` is taken off (the paths carry it)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(502, "MiniMax answered something other than JSON.", code="upstream_error") from None


class MiniMaxHailuoUpstream(HttpAdapter):
    """Speaks MiniMax's asynchronous video generation (v1); one video per task."""

    name = "minimax-hailuo"
    title = "MiniMax Hailuo"  # in refusals: "not offered by the MiniMax Hailuo upstream"
    # MiniMax has no moderation endpoint (it refuses a create with 1026, or fails the task with 1027)
    lists = False  # no task listing and no client token: a lost create cannot be identified
    callbacks = True  # ``callback_url``: MiniMax POSTs each status change after a challenge handshake

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = minimax_base(base_url)
        headers = {"Authorization": f"Bearer {api_key}"}
        self.http = http or UpstreamHttp(self.base_url, headers, upstream=self.name, errors=read_error)
        # the file host: no MiniMax header at all (the signed URL carries its own grant)
        self.cdn = UpstreamHttp("", {}, upstream=self.name, errors=cdn_error)
        self.cdn.client.follow_redirects = True
        self._files: LRUCache[str, str] = LRUCache(maxsize=FILES_MAX)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        v2 = spec.model in OFFERS and OFFERS[spec.model].v2
        body = await (create_body_v2(spec) if v2 else create_body(spec))
        response = await self.http.request("POST", V2_CREATE if v2 else CREATE_PATH, operation="create", json=body)
        task_id = (V2_PREFIX if v2 else "") + created_task(_json(response))
        return UpstreamVideo(
            id=task_id, status="queued", model=str(body["model"]), size=spec.size, seconds=str(spec.seconds),
            poll_after_ms=10_000,
        )  # fmt: skip

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        if upstream_id.startswith(V2_PREFIX):
            return await self._retrieve_v2(upstream_id)
        params = {"task_id": upstream_id}
        response = await self.http.request("GET", QUERY_PATH, operation="retrieve", params=params)
        video = parse_task(_json(response), upstream_id)
        if "video" in video.content_ids:
            self._files[upstream_id] = video.content_ids["video"]
        return video

    async def _retrieve_v2(self, upstream_id: str) -> UpstreamVideo:
        path = f"{V2_QUERY}/{upstream_id.removeprefix(V2_PREFIX)}"
        try:
            response = await self.http.request("GET", path, operation="retrieve")
        except UpstreamError as exc:
            raise lost_if_unknown(exc, upstream_id) from None
        video = parse_task_v2(_json(response), upstream_id)
        if "video" in video.content_ids:
            self._files[upstream_id] = video.content_ids["video"]
        return video

    async def delete(self, upstream_id: str) -> None:
        """MiniMax cancels and deletes no video task: only what the gateway remembers is forgotten."""
        self._files.pop(upstream_id, None)

    async def list_models(self) -> list[dict[str, Any]]:
        """The table's models, after one free read of the video files list: it proves key and host."""
        params = {"purpose": "video_generation"}
        checked(_json(await self.http.request("GET", "/v1/files/list", operation="models", params=params)))
        return [{"id": m, "object": "model", "owned_by": "minimax"} for m in PROFILES["minimax-hailuo"].models]

    async def _file_id(self, upstream_id: str) -> str:
        known = self._files.get(upstream_id)
        if known is not None:
            return known
        return video_url_of(await self.retrieve(upstream_id), f"MiniMax task {upstream_id}")

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """The task's video: its file's download URL asked for now (it expires), fetched without the key."""
        only_video(variant, "MiniMax")
        headers = range_of(range_header)
        if upstream_id.startswith(V2_PREFIX):
            return await self._content_v2(upstream_id, headers)
        file_id = await self._file_id(upstream_id)
        answer = await self.http.request("GET", FILE_PATH, operation="content", params={"file_id": file_id})
        return await self.cdn.stream(download_url(_json(answer)), headers=headers, operation="content")

    async def _content_v2(self, upstream_id: str, headers: dict[str, str]) -> ContentStream:
        """A v2 task's ``content.url`` (remembered from its query), looked up again once when it is refused."""
        gone = f"MiniMax's video of task {upstream_id} expired."  # the same (refused) URL again
        return await stream_signed(self.cdn, self._files, upstream_id, headers, self._file_id, gone)

    def callback_reply(self, body: Any) -> Any | None:
        """MiniMax's handshake: a POST of ``{"challenge": c}`` is answered ``{"challenge": c}`` (else no callbacks)."""
        challenge = body.get("challenge") if isinstance(body, dict) else None
        return {"challenge": challenge} if isinstance(challenge, str) and challenge else None

    async def close(self) -> None:
        await self.http.close()
        await self.cdn.close()
