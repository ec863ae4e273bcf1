"""Runway's answers in the gateway's words: a task -> :class:`UpstreamVideo`, a refusal -> :class:`UpstreamError`.

Task statuses (vendor SDK ``task_retrieve_response.py``): PENDING, THROTTLED (over the organisation's
concurrency: queued by Runway, still to be paid, never re-sent), RUNNING (``progress`` 0..1), SUCCEEDED
(``output``: presigned URLs), FAILED (``failure``, optional ``failureCode``), CANCELLED.
Failure codes (docs.dev.runwayml.com/errors/task-failures/): ``SAFETY.*`` and
``INPUT_PREPROCESSING.SAFETY.*`` are moderation (never retried); ``ASSET.INVALID`` and
``THIRD_PARTY.INPUT_VALIDATION`` a bad input; the rest (``INTERNAL*``, ``THIRD_PARTY.UNAVAILABLE``,
``INPUT_PREPROCESSING.INTERNAL``, none) a failed generation the driver may retry.
Refusals (docs.dev.runwayml.com/errors/errors): ``{"error": "<text>"}``, a validator 400 also with
``issues[]`` (zod: ``path``, ``message``) and ``docUrl``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from gateway.upstreams.base import UpstreamError, UpstreamVideo
from gateway.upstreams.http import retry_after_of

POLL_FLOOR_MS = 5000  # "should not expect updates more frequent than once every five seconds" (SDK tasks.py)
STATUSES: dict[str, str] = {
    "PENDING": "queued",
    "THROTTLED": "queued",
    "RUNNING": "in_progress",
    "SUCCEEDED": "completed",
    "FAILED": "failed",
    "CANCELLED": "failed",
}
MODERATION_PREFIXES = ("SAFETY.", "INPUT_PREPROCESSING.SAFETY.")
BAD_INPUT_CODES = ("ASSET.INVALID", "THIRD_PARTY.INPUT_VALIDATION")
# Runway's field -> the client's field of the same meaning (refusals name what the client sent)
FIELDS = {
    "promptText": "prompt",
    "ratio": "size",
    "duration": "seconds",
    "promptImage": "input_reference",
    "negativePrompt": "negative_prompt",
}


def failure_code(code: str | None) -> str:
    """The gateway's error code for a FAILED task's ``failureCode``."""
    code = code or ""
    if code.startswith(MODERATION_PREFIXES):
        return "moderation_blocked"
    if code.startswith(BAD_INPUT_CODES):
        return "invalid_value"
    return "video_generation_failed"


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _progress(raw: str, value: Any) -> int:
    if raw == "SUCCEEDED":
        return 100
    if raw == "RUNNING" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(0, min(99, round(float(value) * 100)))
    return 0


def _error(raw: str, data: dict[str, Any]) -> dict[str, str] | None:
    if raw == "CANCELLED":
        return {"code": "cancelled", "message": "The Runway task was cancelled."}
    if raw != "FAILED":
        return None
    code = data.get("failureCode")
    reason = str(data.get("failure") or "The generation failed.")
    named = f" ({code})" if isinstance(code, str) and code else ""
    return {"code": failure_code(code if isinstance(code, str) else None), "message": f"Runway: {reason}{named}"}


def parse_task(data: dict[str, Any]) -> UpstreamVideo:
    """A task object; a SUCCEEDED one's first output URL is kept as ``content_ids["video"]``."""
    raw = str(data.get("status") or "PENDING")
    status = STATUSES.get(raw, "queued")
    output = data.get("output")
    url = output[0] if isinstance(output, list) and output and isinstance(output[0], str) else None
    return UpstreamVideo(
        id=str(data["id"]),
        status=status,
        progress=_progress(raw, data.get("progress")),
        error=_error(raw, data),
        poll_after_ms=POLL_FLOOR_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": url} if status == "completed" and url else {},
        created_at=_epoch(data.get("createdAt")),
    )


def _issues(data: dict[str, Any]) -> tuple[str | None, str]:
    """(the client's name for the first field named, every issue as ``field: message``)."""
    found: list[str] = []
    param: str | None = None
    for issue in data.get("issues") or []:
        if not isinstance(issue, dict):
            continue
        path = [str(p) for p in issue.get("path") or []]
        field = FIELDS.get(path[0], path[0]) if path else None
        param = param or field
        where = ".".join(path)
        found.append(f"{where}: {issue.get('message')}" if where else str(issue.get("message")))
    return param, "; ".join(found)


def read_error(response: httpx.Response) -> UpstreamError:
    """A Runway refusal as an :class:`UpstreamError` (the ``errors=`` reader of its UpstreamHttp)."""
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    text = data.get("error")
    text = text if isinstance(text, str) and text else f"Runway answered HTTP {status}"
    param, details = _issues(data)
    message = f"Runway: {text}" + (f" ({details})" if details else "")
    if status == 400 and "enough credits" in text.lower():  # the organisation's balance: another upstream may serve
        return UpstreamError(429, message, code="quota_exhausted")
    if status == 400:
        return UpstreamError(400, message, type="invalid_request_error", code="invalid_value", param=param)
    if status == 401:
        return UpstreamError(401, message, code="invalid_api_key")
    if status == 403:
        return UpstreamError(403, message, code="model_not_available")
    if status == 404:
        return UpstreamError(404, message, code="not_found")
    if status == 429:  # Runway's 429 is the daily generation limit (concurrency only THROTTLEs tasks)
        return UpstreamError(429, message, code="quota_exhausted", retry_after=retry_after_of(response))
    return UpstreamError(status, message, code="upstream_error", retry_after=retry_after_of(response))


def cdn_error(response: httpx.Response) -> UpstreamError:
    """A refused download of a presigned output URL (never echoing the URL: its token grants the asset)."""
    if response.status_code in (401, 403, 404, 410):
        return UpstreamError(404, "The Runway output URL expired or is gone.", code="content_expired")
    return UpstreamError(response.status_code, f"Runway's output host answered HTTP {response.status_code}.")
