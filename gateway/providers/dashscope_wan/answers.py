"""DashScope's answers in the gateway's words: a task -> :class:`UpstreamVideo`, a refusal -> :class:`UpstreamError`.

A task query (``GET /api/v1/tasks/{task_id}``, "Manage asynchronous tasks") is HTTP 200 whatever the task's
fate: ``output.task_status`` is PENDING, RUNNING, SUCCEEDED (``output.video_url``), FAILED (the reason in
``output.code`` / ``output.message``), CANCELED, or UNKNOWN (no such task, or one older than 24 h: it is gone,
not queued). A refusal is ``{"request_id", "code", "message"}`` with a real HTTP status ("Error codes").
Mapping: ``DataInspectionFailed`` / ``IPInfringementSuspect`` (at create or in a failed task) are
``moderation_blocked``; ``InvalidParameter`` ``invalid_value``; ``Throttling*`` 429 (``Throttling.AllocationQuota``
``quota_exhausted``, the others ``rate_limited``); ``Arrearage`` and ``AllocationQuota.FreeTierOnly`` 429
``quota_exhausted`` (another upstream may serve); ``InvalidApiKey`` 401; ``AccessDenied*`` 403; 5xx stays 5xx.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from gateway.upstreams.base import UpstreamError, UpstreamVideo
from gateway.upstreams.http import retry_after_of

POLL_MS = 5000  # the SDK's wait() backs off to one query every 5 s; queries are limited to 20 a second
STATUSES: dict[str, str] = {
    "PENDING": "queued",
    "RUNNING": "in_progress",
    "SUSPENDED": "in_progress",  # an SDK status word, not documented for video
    "SUCCEEDED": "completed",
    "FAILED": "failed",
    "CANCELED": "failed",
}
MODERATION_CODES = ("DataInspectionFailed", "IPInfringementSuspect")
QUOTA_CODES = ("Arrearage", "AllocationQuota.FreeTierOnly", "Throttling.AllocationQuota")


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def failure(code: str, message: str) -> dict[str, str]:
    """The gateway's error of a FAILED task."""
    if code.startswith(MODERATION_CODES) or "inappropriate content" in message.lower():
        ours = "moderation_blocked"
    elif code.startswith("InvalidParameter"):
        ours = "invalid_value"  # e.g. a duration the model does not take: a retry would fail the same way
    else:
        ours = "video_generation_failed"
    return {"code": ours, "message": f"DashScope {code}: {message}"}


def _expires(url: str) -> int | None:
    """The ``Expires`` (epoch seconds) of an OSS signed URL."""
    values = parse_qs(urlsplit(url).query).get("Expires") or []
    return int(values[0]) if values and values[0].isascii() and values[0].isdigit() else None


def _seconds(usage: Any) -> str | None:
    value = usage.get("output_video_duration") or usage.get("duration") if isinstance(usage, dict) else None
    try:
        return str(round(float(value))) if value else None
    except (TypeError, ValueError):
        return None


def parse_task(body: Any) -> UpstreamVideo:
    """A task query's answer; UNKNOWN raises the 404 the job driver reads as "the upstream lost it"."""
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, dict) or not output.get("task_id"):
        raise UpstreamError(502, "DashScope answered a task query without a task.")
    task_id = str(output["task_id"])
    raw = str(output.get("task_status") or "")
    if raw == "UNKNOWN":
        raise UpstreamError(404, f"DashScope no longer knows task {task_id} (expired or never made).",
                            code="upstream_lost")  # fmt: skip
    status = STATUSES.get(raw, "queued")
    url = output.get("video_url")
    error = None
    if raw == "FAILED":
        error = failure(_text(output.get("code"), "Failed"), _text(output.get("message"), "The task failed."))
    elif raw == "CANCELED":
        error = {"code": "cancelled", "message": "The DashScope task was canceled."}
    elif status == "completed" and not isinstance(url, str):
        status, error = (
            "failed",
            {"code": "output_missing", "message": "DashScope's task succeeded without a video_url."},
        )
    done = status == "completed"
    return UpstreamVideo(
        id=task_id,
        status=status,
        progress=100 if done else 0,
        error=error,
        expires_at=_expires(str(url)) if done else None,
        seconds=_seconds(body.get("usage")) if done else None,
        poll_after_ms=POLL_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": str(url)} if done else {},
    )


def created_task(body: Any) -> UpstreamVideo:
    """A create's answer ``{"output": {"task_status": "PENDING", "task_id"}, "request_id"}``."""
    output = body.get("output") if isinstance(body, dict) else None
    task_id = output.get("task_id") if isinstance(output, dict) else None
    if not task_id:
        if isinstance(body, dict) and body.get("code"):  # a refusal inside an HTTP 200
            raise envelope_error(200, body)
        # a task may exist: a 502 leaves the create's outcome unknown, so it is never sent again blind
        raise UpstreamError(502, "DashScope's create answer named no task.")
    status = STATUSES.get(str(output.get("task_status") or "PENDING"), "queued")  # type: ignore[union-attr]
    return UpstreamVideo(id=str(task_id), status=status, poll_after_ms=POLL_MS)


def envelope_error(status: int, body: Any, retry_after: float | None = None) -> UpstreamError:
    """``{"request_id", "code", "message"}`` answered with HTTP ``status``, in the gateway's words."""
    body = body if isinstance(body, dict) else {}
    code = _text(body.get("code"), "")
    message = f"DashScope {code}: " if code else "DashScope: "
    message += _text(body.get("message"), f"HTTP {status}")
    if code.startswith(MODERATION_CODES):
        return UpstreamError(400, message, type="invalid_request_error", code="moderation_blocked")
    if code.startswith(QUOTA_CODES):
        return UpstreamError(429, message, code="quota_exhausted", retry_after=retry_after)
    if status == 429 or code.startswith("Throttling"):
        return UpstreamError(429, message, code="rate_limited", retry_after=retry_after)
    if status == 401 or code == "InvalidApiKey":
        return UpstreamError(401, message, code="invalid_api_key")
    if status == 403:
        return UpstreamError(403, message, code="permission_denied")
    if status == 404:
        return UpstreamError(404, message, code="model_not_found" if code == "ModelNotFound" else "not_found")
    if 400 <= status < 500:
        return UpstreamError(status, message, type="invalid_request_error", code="invalid_value")
    return UpstreamError(status if status >= 500 else 502, message, code="upstream_error", retry_after=retry_after)


def read_error(response: httpx.Response) -> UpstreamError:
    """The ``errors=`` reader of the API client: any non-2xx answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return envelope_error(response.status_code, body, retry_after_of(response))


def oss_error(response: httpx.Response) -> UpstreamError:
    """A refused download of a signed result URL (never echoing the URL: its signature grants the file)."""
    if response.status_code in (403, 404, 410):
        return UpstreamError(404, "The DashScope video URL expired or is gone.", code="content_expired")
    return UpstreamError(response.status_code, f"DashScope's result host answered HTTP {response.status_code}.")
