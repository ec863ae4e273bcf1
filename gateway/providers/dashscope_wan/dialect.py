"""Adapter for Alibaba Model Studio's DashScope API, Wan video synthesis (``https://dashscope-intl.aliyuncs.com``).

Docs: alibabacloud.com/help/en/model-studio/text-to-video-api-reference (Wan 2.7),
.../legacy-wan-text-to-video-api-reference (Wan 2.1-2.6), help.aliyun.com/zh/model-studio/image-to-video-api-reference
(first frame), .../manage-asynchronous-tasks (query, list, cancel), .../error-code; the official SDK
``dashscope/dashscope-sdk-python`` (``aigc/video_synthesis.py``).

Every call carries ``Authorization: Bearer <key>``; a create also ``X-DashScope-Async: enable`` (without it
DashScope refuses: "current user api does not support synchronous calls"). ``POST
/api/v1/services/aigc/video-generation/video-synthesis`` answers ``{"output": {"task_id", "task_status":
"PENDING"}, "request_id"}``; ``GET /api/v1/tasks/{task_id}`` is polled (no callbacks) until SUCCEEDED, whose
``output.video_url`` is a signed OSS URL fetched WITHOUT the key, valid 24 h after the task ended (the task
itself is answered UNKNOWN after 24 h). The bodies are built by :mod:`.wire`, the answers read by
:mod:`.answers`.

DashScope keeps no client token, and its task list (``GET /api/v1/tasks/``) shows a task's model and time but
no prompt, size or length, so nothing can tell which listed task a lost create made: ``lists`` stays False,
and a create whose answer was lost fails the job ``upstream_outcome_unknown`` rather than be paid twice. A
pending task is cancelled on delete (``POST /api/v1/tasks/{id}/cancel``); DashScope deletes nothing.
"""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache

from gateway.providers.dashscope_wan.answers import created_task, oss_error, parse_task, read_error
from gateway.providers.dashscope_wan.table import PROFILES
from gateway.providers.dashscope_wan.wire import create_body
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp
from gateway.upstreams.signed import only_video, range_of, stream_signed, video_url_of

API = "/api/v1"
CREATE_PATH = f"{API}/services/aigc/video-generation/video-synthesis"
ASYNC_HEADER = {"X-DashScope-Async": "enable"}
URLS_MAX = 10_000  # remembered task -> video URL (an LRU; a forgotten one is queried again)


def dashscope_base(base_url: str) -> str:
    """The API origin: a configured ``…/api/v1`` is taken off (the paths carry it)."""
    base = base_url.rstrip("/")
    return base[: -len(API)] if base.endswith(API) else base


class DashScopeWanUpstream(HttpAdapter):
    """Speaks DashScope's asynchronous video-synthesis tasks; one video per task."""

    name = "dashscope-wan"
    title = "DashScope Wan"  # in refusals: "not offered by the DashScope Wan upstream"
    # DashScope has no moderation endpoint (it refuses ``DataInspectionFailed`` at create or fails the task)
    lists = False  # its task list names no prompt, size or length: no sweep, no reconciliation of a lost create

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = dashscope_base(base_url)
        headers = {"Authorization": f"Bearer {api_key}"}
        self.http = http or UpstreamHttp(self.base_url, headers, upstream=self.name, errors=read_error)
        # the result host: no DashScope header at all (the signed URL carries its own authority)
        self.oss = UpstreamHttp("", {}, upstream=self.name, errors=oss_error)
        self.oss.client.follow_redirects = True
        self._urls: LRUCache[str, str] = LRUCache(maxsize=URLS_MAX)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        body = await create_body(spec)
        response = await self.http.request("POST", CREATE_PATH, operation="create", json=body, headers=ASYNC_HEADER)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        video = created_task(answer)
        video.model, video.size, video.seconds = str(body["model"]), spec.size, str(spec.seconds)
        return video

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"{API}/tasks/{upstream_id}", operation="retrieve")
        try:
            answer = response.json()
        except ValueError:
            raise UpstreamError(502, "DashScope answered a task query with something that is not JSON.") from None
        video = parse_task(answer)
        if "video" in video.content_ids:
            self._urls[video.id] = video.content_ids["video"]
        return video

    async def delete(self, upstream_id: str) -> None:
        """Cancels the task while it is still PENDING; DashScope deletes nothing (results go after 24 h)."""
        self._urls.pop(upstream_id, None)
        try:
            await self.http.request("POST", f"{API}/tasks/{upstream_id}/cancel", operation="delete")
        except UpstreamError as exc:
            if exc.status not in (400, 404):  # running or finished already (UnsupportedOperation), or gone
                raise

    async def list_models(self) -> list[dict[str, Any]]:
        """The table's models, after one page of one task from the task list: a free read proving key and host."""
        await self.http.request("GET", f"{API}/tasks/", operation="models", params={"page_no": 1, "page_size": 1})
        return [{"id": m, "object": "model", "owned_by": "alibaba"} for m in PROFILES["dashscope-wan"].models]

    async def _url(self, upstream_id: str) -> str:
        try:
            video = await self.retrieve(upstream_id)
        except UpstreamError as exc:
            if exc.code == "upstream_lost":  # the task (and its video) is gone after 24 h
                raise UpstreamError(404, exc.message, code="content_expired") from None
            raise
        return video_url_of(video, f"DashScope task {upstream_id}")

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """The task's video from its signed URL (no key goes there); DashScope makes no thumbnail or spritesheet."""
        only_video(variant, "DashScope")
        gone = f"DashScope's video of task {upstream_id} expired."  # it does not sign again
        return await stream_signed(self.oss, self._urls, upstream_id, range_of(range_header), self._url, gone)

    async def close(self) -> None:
        await self.http.close()
        await self.oss.close()
