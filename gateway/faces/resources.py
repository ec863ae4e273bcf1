"""What every face reaches for on a request: the video service, the uploads directory, poll hints."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.requests import Request

from gateway.core.models import Job
from gateway.pipeline.service import VideoService


def poll_headers(job: Job) -> dict[str, str]:
    """``openai-poll-after-ms``: when the gateway itself will next look at an unfinished job."""
    if job.terminal:
        return {}
    due = min((s.next_poll_at for s in job.segments if s.status not in ("completed", "failed")), default=0.0)
    wait_ms = max(int((due - time.time()) * 1000), 250, min(job.poll_after_ms, 1000))
    return {"openai-poll-after-ms": str(min(wait_ms, 10000))}


def queue_position(request: Request | None, job: Job) -> int | None:
    """Where a queued job waits for an upstream slot (1 = next), None when nothing holds it back."""
    queue = getattr(request.app.state.ctx.driver, "queue", None) if request is not None else None
    return queue.position(job) if queue is not None else None


def service(request: Request) -> VideoService:
    return request.app.state.ctx.service


def uploads(request: Request) -> Path:
    return Path(request.app.state.ctx.settings.data_dir) / "uploads"
