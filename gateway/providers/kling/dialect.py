"""Adapter for Kling AI's classic ("old design standard") video task API.

Kling's API reference (``https://kling.ai/document-api``, pages "General Info / Authentication", "Error Codes",
"Video Generation: Text to Video", "Image to Video" and their "Query Task (Single)" / "Query Task (List)"):

- ``POST /v1/videos/text2video`` ``{"model_name", "prompt", "negative_prompt", "duration": "5"|"10", "mode":
  "std"|"pro", "aspect_ratio": "16:9"|"9:16"|"1:1", "external_task_id"}``; ``POST /v1/videos/image2video`` takes
  ``image`` (raw base64 or a URL) and no ``aspect_ratio`` (the output follows the image).
- ``GET /v1/videos/{action}/{task_id}``; ``GET /v1/videos/{action}?pageNum=&pageSize=`` lists an action's tasks.
  ``task_status``: ``submitted``, ``processing``, ``succeed``, ``failed`` (with ``task_status_msg``); the video is
  ``task_result.videos[0].url`` on Kuaishou's CDN, fetched without Kling's token.
- ``callback_url`` on a create: Kling POSTs the task (as a query shows it, unsigned) at each status change;
  ``callbacks = True``, so with ``public_base_url`` set the gateway names its own URL (a per-job token in the
  path) and confirms each ended task with one query (:mod:`gateway.jobs.callbacks`).
- ``Authorization: Bearer <JWT>`` (see :mod:`.credentials`); every answer is ``{"code", "message", "request_id",
  "data"}`` (see :mod:`.errors`).

A task id belongs to its action, so the gateway's upstream id is ``<action>:<task_id>``. The segment's
idempotency key goes out as ``external_task_id`` and comes back on every listed task as ``client_token``: a
create whose answer was lost is found exactly in the listing before anything is sent again.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx
from cachetools import LRUCache

from gateway.core.models import Reference
from gateway.observability import log
from gateway.providers.kling.credentials import LIFETIME_S, RENEW_BEFORE_S, KlingAuth, KlingToken
from gateway.providers.kling.errors import data_of, kling_error
from gateway.providers.kling.table import ASPECTS, PROFILES, SINGLE_MODE
from gateway.upstreams.base import ContentStream, GenerationSpec, ListPage, UpstreamError, UpstreamVideo
from gateway.upstreams.http import LIST_PAGES_MAX, HttpAdapter, UpstreamHttp

ACTIONS = ("text2video", "image2video")
# Kling task_status -> (gateway status, progress shown while in it)
STATUSES: dict[str, tuple[str, int]] = {
    "submitted": ("queued", 0),
    "processing": ("in_progress", 50),
    "succeed": ("completed", 100),
    "failed": ("failed", 0),
}
# words of a task_status_msg that mean Kling's risk control refused the task (never retried, never charged)
SAFETY_WORDS = (
    "risk control", "content security", "safety", "sensitive", "moderation", "inappropriate", "风控", "安全",
)  # fmt: skip
LIST_SIZE = 500  # pageSize of a listing read: Kling's largest (1..500), so 500 jobs in flight cost one page per action
PAGE_MAX = 1000  # Kling's largest pageNum
URLS_MAX = 10_000  # remembered result URLs (an LRU; a forgotten one is retrieved again)
EXPIRED_STATUSES = (403, 404, 410)  # what a CDN answers for a cleared or hotlink-refused file


def kling_base(base_url: str) -> str:
    """The API origin for a configured URL (``https://api-singapore.klingai.com``, with or without ``/v1``)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def split_id(upstream_id: str) -> tuple[str, str]:
    """(action, Kling task id) of an upstream id; a bare task id is a text2video one."""
    action, sep, task_id = upstream_id.partition(":")
    return (action, task_id) if sep and action in ACTIONS else ("text2video", upstream_id)


def _safety(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in SAFETY_WORDS)


def _seconds(duration: Any) -> str | None:
    try:
        return str(round(float(duration)))
    except (TypeError, ValueError):
        return None


def parse_task(data: dict[str, Any], action: str) -> UpstreamVideo:
    """One task (a query's ``data``, or an item of a listing) in the gateway's words."""
    if not isinstance(data, dict) or not data.get("task_id"):
        raise UpstreamError(502, "Kling answered a task without a task_id.")
    raw = str(data.get("task_status") or "submitted")
    status, progress = STATUSES.get(raw, ("in_progress", 50))
    if raw not in STATUSES:
        log.warning("kling_unknown_status", status=raw[:40])
    videos = (data.get("task_result") or {}).get("videos") or []
    video = videos[0] if videos and isinstance(videos[0], dict) else {}
    url = video.get("url")
    error = None
    if status == "failed":
        reason = str(data.get("task_status_msg") or "Kling task failed.")
        error = {"code": "moderation_blocked" if _safety(reason) else "video_generation_failed", "message": reason}
    elif status == "completed" and not url:
        status, progress = "failed", 0
        error = {"code": "output_missing", "message": "Kling reported the task succeeded without a video URL."}
    created = data.get("created_at")
    token = (data.get("task_info") or {}).get("external_task_id")
    return UpstreamVideo(
        id=f"{action}:{data['task_id']}",
        status=status,
        progress=progress,
        error=error,
        seconds=_seconds(video.get("duration")),
        content_ids={"video": str(url)} if url else {},
        created_at=created / 1000 if isinstance(created, int | float) else None,
        client_token=str(token) if token else None,
    )


async def _image(ref: Reference) -> str:
    """``image`` as Kling takes it: a URL, or the file's raw base64 (no ``data:`` prefix)."""
    if ref.image_url:
        return ref.image_url
    try:
        payload = await asyncio.to_thread(Path(str(ref.path)).read_bytes)
    except OSError:
        raise UpstreamError(400, f"The uploaded file {ref.filename or ''} is no longer available.") from None
    return base64.b64encode(payload).decode("ascii")


class KlingUpstream(HttpAdapter):
    """Speaks Kling's ``/v1/videos/text2video`` and ``/v1/videos/image2video`` task API."""

    name = "kling"
    title = "Kling"  # in refusals: "not offered by the Kling upstream"
    # Kling has no moderation endpoint (it refuses a create with code 1301, or fails the task)
    # Kling has no chat completion: prompts are not enhanced
    lists = True
    callbacks = True  # ``callback_url``: Kling POSTs the task (as a query shows it) at each status change

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        http: UpstreamHttp | None = None,
        token_lifetime_s: int = LIFETIME_S,
        renew_before_s: int = RENEW_BEFORE_S,
    ) -> None:
        self.base_url = kling_base(base_url)
        self.token = KlingToken(api_key, lifetime_s=token_lifetime_s, renew_before_s=renew_before_s)
        # Kling's header table names Content-Type: application/json on every request (GETs too)
        json_header = {"Content-Type": "application/json"}
        self.http = http or UpstreamHttp(self.base_url, json_header, upstream=self.name, errors=kling_error)
        self.http.client.auth = KlingAuth(self.token, httpx.URL(self.base_url))
        self.http.client.follow_redirects = True  # a CDN may redirect a result URL
        self._urls: LRUCache[str, str] = LRUCache(maxsize=URLS_MAX)  # upstream id -> result URL
        self._next_page: LRUCache[str, int] = LRUCache(maxsize=256)  # last id of a listing page -> next pageNum

    # -- create ---------------------------------------------------------------------------------------------------
    def body(self, spec: GenerationSpec, image: str | None = None) -> dict[str, Any]:
        """The create body for ``spec`` (``image``: set for an image2video create)."""
        aspect, mode = ASPECTS[spec.size] if spec.size in ASPECTS else ("16:9", "std")
        body: dict[str, Any] = {"model_name": spec.model}
        if image is not None:
            body["image"] = image
        body["prompt"] = spec.prompt
        if spec.negative_prompt:
            body["negative_prompt"] = spec.negative_prompt
        body["duration"] = str(spec.seconds)
        if spec.model not in SINGLE_MODE:
            body["mode"] = mode
        if image is None:
            body["aspect_ratio"] = aspect
        if spec.callback_url:
            body["callback_url"] = spec.callback_url
        if spec.idempotency_key:
            body["external_task_id"] = spec.idempotency_key
        return body

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        if spec.kind != "create":
            raise UpstreamError(400, f"Kling has no {spec.kind} operation here.", code="unsupported_by_upstream")
        ref = spec.reference
        image = await _image(ref) if ref is not None and (ref.path or ref.image_url) else None
        action = "image2video" if image is not None else "text2video"
        response = await self.http.request(
            "POST", f"/v1/videos/{action}", operation="create", json=self.body(spec, image)
        )
        return self._remember(parse_task(data_of(response), action))

    def _remember(self, video: UpstreamVideo) -> UpstreamVideo:
        if "video" in video.content_ids:
            self._urls[video.id] = video.content_ids["video"]
        return video

    # -- query ----------------------------------------------------------------------------------------------------
    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        action, task_id = split_id(upstream_id)
        response = await self.http.request("GET", f"/v1/videos/{action}/{task_id}", operation="retrieve")
        return self._remember(parse_task(data_of(response), action))

    async def delete(self, upstream_id: str) -> None:
        """Kling has no delete: the gateway only forgets the result URL (Kling clears results after 30 days)."""
        self._urls.pop(upstream_id, None)

    async def _listing(self, action: str, page: int) -> tuple[list[UpstreamVideo], bool]:
        """One page of an action's tasks and whether it was full (more may follow)."""
        params = {"pageNum": page, "pageSize": LIST_SIZE}
        response = await self.http.request("GET", f"/v1/videos/{action}", operation="list", params=params)
        items = data_of(response) or []
        tasks = [
            self._remember(parse_task(item, action)) for item in items if isinstance(item, dict) and item.get("task_id")
        ]
        return tasks, len(items) >= LIST_SIZE and page < PAGE_MAX

    async def list_page(self, after: str | None = None) -> ListPage:
        """Page ``n`` of both listings (text2video and image2video), newest first; ``after`` names page ``n - 1``."""
        page = self._next_page.get(after, 1) if after else 1
        videos: list[UpstreamVideo] = []
        more = False
        for action in ACTIONS:
            found, full = await self._listing(action, page)
            videos += found
            more = more or full
        videos.sort(key=lambda v: v.created_at or 0.0, reverse=True)
        if videos:
            self._next_page[videos[-1].id] = page + 1
        return ListPage(videos, more)

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        """Every task of either action created at or after ``since``, each listing paged back that far."""
        found: list[UpstreamVideo] = []
        for action in ACTIONS:
            for page in range(1, LIST_PAGES_MAX + 1):
                videos, full = await self._listing(action, page)
                found += [v for v in videos if v.created_at is not None and v.created_at >= since]
                oldest = min((v.created_at for v in videos if v.created_at is not None), default=None)
                if not full or oldest is None or oldest < since:
                    break
        return found

    async def list_models(self) -> list[dict[str, Any]]:
        """Kling lists no models: one free, side-effect-free read of the task list (the breaker's health probe)
        proves the key and the host, then the table's models."""
        params = {"pageNum": 1, "pageSize": 1}
        await self.http.request("GET", "/v1/videos/text2video", operation="models", params=params)
        return [{"id": m, "object": "model", "owned_by": "kling"} for m in PROFILES["kling"].models]

    # -- content --------------------------------------------------------------------------------------------------
    async def _url(self, upstream_id: str, *, fresh: bool = False) -> str:
        known = None if fresh else self._urls.get(upstream_id)
        if known is not None:
            return known
        video = await self.retrieve(upstream_id)
        if "video" not in video.content_ids:
            raise UpstreamError(404, f"Kling task {upstream_id} has no video (status {video.status}).")
        return video.content_ids["video"]

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """The result video from its CDN URL (no Kling token goes there); Kling makes no thumbnail or spritesheet."""
        if variant != "video":
            raise UpstreamError(404, f"Kling makes no {variant}.", code="not_found")
        headers = {"Range": range_header} if range_header else {}
        url = await self._url(upstream_id)
        try:
            return await self.http.stream(url, headers=headers, operation="content")
        except UpstreamError as exc:
            if exc.status not in EXPIRED_STATUSES:
                raise
        fresh = await self._url(upstream_id, fresh=True)  # Kling may have moved it; it does not re-sign
        if fresh != url:
            try:
                return await self.http.stream(fresh, headers=headers, operation="content")
            except UpstreamError as exc:
                if exc.status not in EXPIRED_STATUSES:
                    raise
        raise UpstreamError(404, f"Kling's video of task {upstream_id} is no longer there.", code="content_expired")

    # -- what Kling does not have ---------------------------------------------------------------------------------
