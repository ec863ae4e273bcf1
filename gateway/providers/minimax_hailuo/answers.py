"""MiniMax's answers in the gateway's words: the ``base_resp`` envelope, a task query, a file.

Every MiniMax answer carries ``base_resp: {"status_code", "status_msg"}``; a refusal is usually HTTP 200 with a
non-zero code (read it before anything else). Codes (new-api ``hailuo/constants.go``, the query page's
``base_resp`` and MiniMax's error-code page): 1002 rate limit -> 429 ``rate_limited`` (the job moves to the next
upstream); 1004 authentication failed and 2049 invalid key -> 401; 1008 insufficient balance -> 429
``quota_exhausted``; 1026 sensitive input -> 400 ``moderation_blocked`` (a create refused, nothing paid); 1027
sensitive output -> a failed task ``moderation_blocked``; 2013 invalid parameters -> 400 ``invalid_value``;
1000 / 1001 / 1013 (unknown error, timeout, internal) -> 502 (retryable; a create that met one is never
re-sent blind). A query's statuses: Preparing, Queueing (queued), Processing (in progress), Success (``file_id``
to fetch), Fail (the reason in ``base_resp``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from gateway.upstreams.base import UpstreamError, UpstreamVideo
from gateway.upstreams.http import retry_after_of

POLL_MS = 10_000  # MiniMax recommends one query every 10 s
STATUSES: dict[str, str] = {
    "Preparing": "queued",
    "Queueing": "queued",
    "Processing": "in_progress",
    "Success": "completed",
    "Fail": "failed",
}
RATE_LIMITED, AUTH_FAILED, NO_BALANCE, INVALID_KEY = 1002, 1004, 1008, 2049
SENSITIVE_INPUT, SENSITIVE_OUTPUT, INVALID_PARAMS = 1026, 1027, 2013
MODERATION = (SENSITIVE_INPUT, SENSITIVE_OUTPUT)
_CODE_SUFFIX = re.compile(r"\s*\(\d{3,5}\)\s*$")
_CODE = re.compile(r"\((\d{3,5})\)\s*$")


def base_resp(body: Any) -> tuple[int, str]:
    """(status_code, status_msg) of an answer; (0, "") when it has no envelope."""
    envelope = body.get("base_resp") if isinstance(body, dict) else None
    if not isinstance(envelope, dict):
        return 0, ""
    code = envelope.get("status_code")
    message = envelope.get("status_msg")
    code = code if isinstance(code, int) and not isinstance(code, bool) else -1
    return code, message if isinstance(message, str) else ""


def refusal(code: int, message: str, retry_after: float | None = None) -> UpstreamError:
    """A non-zero ``base_resp`` (or an HTTP error carrying one), in the gateway's words."""
    text = f"MiniMax {code}: {message or 'refused'}"
    if code in MODERATION:
        return UpstreamError(400, text, type="invalid_request_error", code="moderation_blocked")
    if code == NO_BALANCE:
        return UpstreamError(429, text, code="quota_exhausted", retry_after=retry_after)
    if code == RATE_LIMITED or code == 1039:  # 1039: the token rate limit
        return UpstreamError(429, text, code="rate_limited", retry_after=retry_after)
    if code in (AUTH_FAILED, INVALID_KEY):
        return UpstreamError(401, text, code="invalid_api_key")
    if code in (INVALID_PARAMS, 1042):  # 1042: illegal characters in the prompt
        return UpstreamError(400, text, type="invalid_request_error", code="invalid_value")
    return UpstreamError(502, text, code="upstream_error", retry_after=retry_after)


def checked(body: Any) -> dict[str, Any]:
    """``body`` when its ``base_resp`` says success; the refusal otherwise."""
    if not isinstance(body, dict):
        raise UpstreamError(502, "MiniMax answered something other than a JSON object.", code="upstream_error")
    code, message = base_resp(body)
    if code != 0:
        raise refusal(code, message)
    return body


def created_task(body: Any) -> str:
    """The ``task_id`` of a create's answer (a refusal raises; an answer naming no task is a 502: a task may
    exist, so the create is never sent again blind)."""
    task_id = checked(body).get("task_id")
    if not isinstance(task_id, str | int) or isinstance(task_id, bool) or not str(task_id):
        raise UpstreamError(502, "MiniMax's create answer named no task.", code="upstream_error")
    return str(task_id)


def failure(code: int, message: str) -> dict[str, str]:
    """The gateway's error of a task that ended ``Fail``."""
    ours = "moderation_blocked" if code in MODERATION else "video_generation_failed"
    return {"code": ours, "message": f"MiniMax {code}: {message or 'the task failed'}"}


def parse_task(body: Any, task_id: str) -> UpstreamVideo:
    """A query's answer. A refusal with no task status raises; 2013 (the only parameter is the task id) is a
    task MiniMax does not know: lost, not queued (UNVERIFIED: the docs do not say what an unknown id answers)."""
    if not isinstance(body, dict):
        raise UpstreamError(502, "MiniMax answered a task query with something other than JSON.")
    raw = body.get("status")
    code, message = base_resp(body)
    if not isinstance(raw, str) or not raw:
        if code == INVALID_PARAMS:
            raise UpstreamError(404, f"MiniMax does not know task {task_id} ({message}).", code="upstream_lost")
        checked(body)
        raise UpstreamError(502, "MiniMax answered a task query without a status.", code="upstream_error")
    if raw != "Fail" and code != 0:
        raise refusal(code, message)
    status = STATUSES.get(raw, "queued")
    file_id = body.get("file_id")
    error = failure(code, message) if raw == "Fail" else None
    if status == "completed" and not isinstance(file_id, str | int):
        status, error = "failed", {"code": "output_missing", "message": "MiniMax's task succeeded without a file_id."}
    done = status == "completed"
    return UpstreamVideo(
        id=str(body.get("task_id") or task_id),
        status=status,
        progress=100 if done else 0,
        error=error,
        poll_after_ms=POLL_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": str(file_id)} if done else {},
    )


def download_url(body: Any) -> str:
    """``file.download_url`` of a files/retrieve answer."""
    found = checked(body).get("file")
    url = found.get("download_url") if isinstance(found, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise UpstreamError(502, "MiniMax's file answer carries no download_url.", code="upstream_error")
    return url


def envelope_code(body: Any) -> tuple[int, str] | None:
    """(MiniMax code, message) of v2's ``{"error": {"message": "... (2013)"}}``; ``None`` when ``body`` is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        return None
    match = _CODE.search(message)
    return (int(match.group(1)) if match else -1), message


def read_error(response: httpx.Response) -> UpstreamError:
    """The ``errors=`` reader of the API client: an HTTP error status (its ``base_resp``, or v2's ``error``
    envelope with the code in the message's parentheses, when it has one)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = base_resp(body)
    status, retry_after = response.status_code, retry_after_of(response)
    if code > 0:
        return refusal(code, message, retry_after)
    v2 = envelope_code(body)
    if v2 is not None and v2[0] > 0:
        return refusal(v2[0], _CODE_SUFFIX.sub("", v2[1]), retry_after)
    text = f"MiniMax: HTTP {status}"
    if status == 429:
        return UpstreamError(429, text, code="rate_limited", retry_after=retry_after)
    if status in (401, 403):
        return UpstreamError(401 if status == 401 else 403, text, code="invalid_api_key")
    if status == 404:
        return UpstreamError(404, text, code="not_found")
    if 400 <= status < 500:
        return UpstreamError(status, text, type="invalid_request_error", code="invalid_value")
    return UpstreamError(status if status >= 500 else 502, text, code="upstream_error", retry_after=retry_after)


def cdn_error(response: httpx.Response) -> UpstreamError:
    """A refused download of a ``download_url`` (never echoing the URL: its signature grants the file)."""
    if response.status_code in (403, 404, 410):
        return UpstreamError(404, "The MiniMax download URL expired or is gone.", code="content_expired")
    return UpstreamError(response.status_code, f"MiniMax's file host answered HTTP {response.status_code}.")
