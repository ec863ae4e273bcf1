"""Luma's answers in the gateway's words: a Generation -> :class:`UpstreamVideo`, a refusal -> :class:`UpstreamError`.

Generation (SDK ``types/generation.py``, docs "Get a generation"): ``id``, ``created_at``, ``model``, ``type``,
``state`` queued | processing | completed | failed, ``failure_code`` / ``failure_reason`` when failed,
``output: [{"type": "video", "url": <presigned, 1 h>}]`` once completed. No progress is given.

Failure codes (SDK ``generation_failure_code.py``, docs guides/error-handling): ``content_moderated`` is a safety
refusal (never retried); ``image_too_large``, ``unsupported_format``, ``corrupt_input``, ``invalid_request`` a bad
input (never retried); ``budget_exhausted`` the account ran dry (``quota_exhausted``: retried, when the next create
is refused 402 the job moves to another upstream); ``generation_failed``, ``output_not_found``, ``rate_limited``
and anything else a failed generation the driver may retry.

Refusals: "branch on the status code, then read ``detail``" (docs guides/error-handling): ``{"detail": "<text>"}``
(FastAPI's list form ``{"detail": [{"loc", "msg", "type"}]}`` is read too). 400 bad parameters, 401 key, 402
balance, 403 suspended client, 404 unknown generation, 413 media too large, 422 a combination or bad media data,
429 rate or concurrency (``Retry-After``), 502/503 Luma's own upstreams.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from gateway.upstreams.base import UpstreamError, UpstreamVideo
from gateway.upstreams.http import by_status, retry_after_of

POLL_MS = 5000  # not documented; the spec's suggestion: every 5 s at first
STATES: dict[str, str] = {
    "queued": "queued",
    "processing": "in_progress",
    "completed": "completed",
    "failed": "failed",
}
BAD_INPUT = frozenset({"image_too_large", "unsupported_format", "corrupt_input", "invalid_request"})
# Luma's field (a detail's ``loc``) -> the client's field of the same meaning
FIELDS = {
    "prompt": "prompt",
    "aspect_ratio": "size",
    "resolution": "size",
    "duration": "seconds",
    "start_frame": "input_reference",
    "end_frame": "last_frame",
}


def failure_code(code: str | None) -> str:
    """The gateway's error code for a failed generation's ``failure_code``."""
    if code == "content_moderated":
        return "moderation_blocked"
    if code in BAD_INPUT:
        return "invalid_value"
    if code == "budget_exhausted":
        return "quota_exhausted"
    return "video_generation_failed"


def epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def video_url(output: Any) -> str | None:
    """The first ``{"type": "video", "url"}`` of a completed generation's ``output``."""
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict) and item.get("type") == "video" and isinstance(item.get("url"), str):
            return str(item["url"])
    return None


def _error(data: dict[str, Any]) -> dict[str, str]:
    code = data.get("failure_code")
    code = code if isinstance(code, str) and code else None
    reason = data.get("failure_reason")
    reason = reason if isinstance(reason, str) and reason else "The generation failed."
    named = f" ({code})" if code else ""
    return {"code": failure_code(code), "message": f"Luma: {reason}{named}"}


def parse_generation(data: dict[str, Any]) -> UpstreamVideo:
    """A Generation object; a completed one's video URL is kept as ``content_ids["video"]``."""
    state = str(data.get("state") or "queued")
    status = STATES.get(state, "queued")
    url = video_url(data.get("output")) if status == "completed" else None
    error = _error(data) if status == "failed" else None
    if status == "completed" and url is None:  # completed without a video: Luma's output_not_found, retried
        status = "failed"
        error = {"code": "video_generation_failed", "message": "Luma: the completed generation has no video output."}
    model = data.get("model")
    return UpstreamVideo(
        id=str(data["id"]),
        status=status,
        progress=100 if status == "completed" else 0,
        error=error,
        model=model if isinstance(model, str) else None,
        poll_after_ms=POLL_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": url} if url else {},
        created_at=epoch(data.get("created_at")),
    )


def detail_of(response: httpx.Response) -> tuple[str, str | None]:
    """(the refusal's text, the client's name of the field it names, if any)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str) and detail:
        return detail, None
    if isinstance(detail, list):  # FastAPI: [{"loc": ["body", "video", "duration"], "msg", "type"}]
        texts: list[str] = []
        param: str | None = None
        for item in detail:
            if not isinstance(item, dict):
                continue
            loc = [str(part) for part in item.get("loc") or [] if part != "body"]
            param = param or next((FIELDS[p] for p in reversed(loc) if p in FIELDS), None)
            where = ".".join(loc)
            texts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        if texts:
            return "; ".join(texts), param
    return f"Luma answered HTTP {response.status_code}", None


def read_error(response: httpx.Response) -> UpstreamError:
    """A Luma refusal as an :class:`UpstreamError` (the ``errors=`` reader of its UpstreamHttp)."""
    status = response.status_code
    text, param = detail_of(response)
    message = f"Luma: {text}"
    if status == 413:
        return UpstreamError(400, message, code="invalid_value", param=param or "input_reference")
    return by_status(status, message, retry_after=retry_after_of(response), param=param)


def cdn_error(response: httpx.Response) -> UpstreamError:
    """A refused download of a presigned output URL (never echoing the URL: its signature grants the asset)."""
    if response.status_code in (401, 403, 404, 410):
        return UpstreamError(404, "The Luma output URL expired or is gone.", code="content_expired")
    return UpstreamError(response.status_code, f"Luma's output host answered HTTP {response.status_code}.")
