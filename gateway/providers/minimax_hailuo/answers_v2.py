"""MiniMax's v2 answers (MiniMax-H3) in the gateway's words: a task, and the v2 error envelope.

A query (``GET /v2/query/video_generation/{task_id}``) answers ``{"task": {"id", "model", "status", "error":
{"code", "message"}, "content": {"url"}, "resolution", "duration", "ratio", "usage", ...}}`` with ``status`` queued,
running, succeeded, failed or cancelled; a succeeded task's ``content.url`` is a time-limited URL fetched without
the key. A refusal is a real HTTP status with ``{"type": "error", "error": {"type", "message": "... (2013)",
"http_code"}, "request_id"}``: the MiniMax code is the number in the message's last parentheses and is read as v1's
``base_resp`` codes are (:func:`~.answers.refusal`). Only the last 7 days of tasks can be queried; an older or
unknown id is refused "invalid task_id" (2013): lost, not queued.
"""

from __future__ import annotations

from typing import Any

from gateway.providers.minimax_hailuo.answers import INVALID_PARAMS, MODERATION, POLL_MS
from gateway.upstreams.base import UpstreamError, UpstreamVideo

STATUSES: dict[str, str] = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
}


def failure(error: Any, raw: str) -> dict[str, str]:
    """The gateway's error of a failed or cancelled task."""
    if raw == "cancelled":
        return {"code": "cancelled", "message": "The MiniMax task was cancelled."}
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    message = str(error.get("message") or "the task failed") if isinstance(error, dict) else "the task failed"
    moderated = code in {str(c) for c in MODERATION} or "sensitive" in message.lower()
    return {
        "code": "moderation_blocked" if moderated else "video_generation_failed",
        "message": f"MiniMax {code or 'failed'}: {message}",
    }


def parse_task_v2(body: Any, task_id: str) -> UpstreamVideo:
    """A v2 query's answer (the dialect's id of a v2 task is ``task_id``)."""
    task = body.get("task") if isinstance(body, dict) else None
    if not isinstance(task, dict) or not isinstance(task.get("status"), str):
        raise UpstreamError(502, "MiniMax answered a v2 task query without a task.", code="upstream_error")
    raw = str(task["status"])
    status = STATUSES.get(raw, "queued")
    content = task.get("content")
    url = content.get("url") if isinstance(content, dict) else None
    error = failure(task.get("error"), raw) if status == "failed" else None
    if status == "completed" and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        status, error = "failed", {"code": "output_missing", "message": "MiniMax's task succeeded without a URL."}
    done = status == "completed"
    return UpstreamVideo(
        id=task_id,
        status=status,
        progress=100 if done else 0,
        error=error,
        poll_after_ms=POLL_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": str(url)} if done else {},
    )


def lost_if_unknown(exc: UpstreamError, task_id: str) -> UpstreamError:
    """A query refused 2013 (its only parameter is the id): the task is unknown or older than 7 days."""
    if exc.status == 400 and exc.message.startswith(f"MiniMax {INVALID_PARAMS}:"):
        return UpstreamError(404, f"MiniMax does not know task {task_id} ({exc.message}).", code="upstream_lost")
    return exc
