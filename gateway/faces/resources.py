"""What every face reaches for on a request: the video service, the uploads directory, poll and create headers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from starlette.requests import Request

from gateway.content import StoredFile
from gateway.core.models import Job, Status
from gateway.pipeline.service import VideoService
from gateway.pipeline.stages import Created


def created_headers(created: Created) -> dict[str, str]:
    """The headers of a create's answer, in any dialect: poll hint, the service's own, the cache outcome."""
    headers = {**poll_headers(created.job), **created.headers}
    if created.job.cache:
        headers.setdefault("x-sora-gateway-cache", created.job.cache)
    return headers


def poll_headers(job: Job) -> dict[str, str]:
    """``openai-poll-after-ms``: when the gateway itself will next look at an unfinished job."""
    if job.terminal:
        return {}
    due = min((s.next_poll_at for s in job.segments if s.status not in ("completed", "failed")), default=0.0)
    wait_ms = max(int((due - time.time()) * 1000), 250, min(job.poll_after_ms, 1000))
    return {"openai-poll-after-ms": str(min(wait_ms, 10000))}


ACCEL_HEADER = "x-sora-gateway-accel"  # the proxy in front says it serves X-Accel-Redirect (deploy/nginx.conf)


def accel_redirect(request: Request, stored: StoredFile) -> str | None:
    """``X-Accel-Redirect`` for a retained file, when configured and the request came through such a proxy.

    Asked for by the proxy itself (a header it sets), so a client that reaches a replica directly still
    gets the bytes. The path is the file's place under the content directory, after the configured prefix.
    """
    settings = request.app.state.ctx.settings
    prefix = settings.content_accel_redirect
    if not prefix or request.headers.get(ACCEL_HEADER) != "1":
        return None
    root = getattr(request.app.state.ctx.content, "root", None)  # a file:// store's directory
    if root is None:
        return None
    try:
        relative = stored.path.resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None  # not under the content directory (cannot happen for a retained file): send it ourselves
    return prefix.rstrip("/") + "/" + relative.as_posix()


def queue_position(request: Request | None, job: Job) -> int | None:
    """Where a queued job waits for an upstream slot (1 = next), None when nothing holds it back."""
    return queue_position_in(request.app.state.ctx, job) if request is not None else None


def queue_position_in(ctx: Any, job: Job) -> int | None:
    """:func:`queue_position` from the app's context (the fast poll path has no ``Request``)."""
    queue = getattr(ctx.driver, "queue", None)
    return queue.position(job) if queue is not None else None


def service(request: Request) -> VideoService:
    return request.app.state.ctx.service


def uploads(request: Request) -> Path:
    return Path(request.app.state.ctx.settings.data_dir) / "uploads"


def cost_usd(job: Job) -> float:
    """What this video cost the team: its generated seconds at list price (every second the upstream made,
    trimmed ones included); 0 for a cache hit or a coalesced follower, and for a failed video (refunded)."""
    return 0.0 if job.status == Status.FAILED else round(job.cost_usd, 4)
