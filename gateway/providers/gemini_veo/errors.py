"""Google's refusals in the gateway's words: the HTTP error envelope and a finished operation's outcome.

Every non-2xx answer of the Gemini API is ``{"error": {"code": <HTTP status>, "message", "status":
<canonical word>, "details": [...]}}`` (https://ai.google.dev/api/rest, Google's ``google.rpc.Status``).
A bad key is a 400 ``INVALID_ARGUMENT`` with the ``ErrorInfo`` reason ``API_KEY_INVALID``, no key a
403 ``PERMISSION_DENIED``: both are the gateway's 401. ``RESOURCE_EXHAUSTED`` (rate, quota, the
rolling spend cap) is a 429 whose wait is the ``RetryInfo.retryDelay`` detail (``"41s"``).

A finished operation carries a ``google.rpc.Status`` whose code is the canonical gRPC number (3
INVALID_ARGUMENT, 13 INTERNAL...), or, for Veo's safety filter, no error at all but
``raiMediaFilteredCount`` / ``raiMediaFilteredReasons`` and no samples: ``moderation_blocked``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from gateway.upstreams.base import UpstreamError

KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED"})
KEY_WORDS = ("api key", "unregistered callers")
POLICY_WORDS = ("polic", "safety", "responsible ai", "violat")
# Veo's field names -> the gateway's, so a refusal names the field the client sent
FIELDS = {
    "durationSeconds": "seconds",
    "aspectRatio": "size",
    "resolution": "size",
    "negativePrompt": "negative_prompt",
    "prompt": "prompt",
    "image": "input_reference",
    "lastFrame": "last_frame",
    "referenceImages": "reference_images",
    "model": "model",
}
_FIELD = re.compile(r"\b(" + "|".join(FIELDS) + r")\b")
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
# canonical gRPC code of an operation's error -> its word
CANONICAL = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    13: "INTERNAL",
    14: "UNAVAILABLE",
}


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        err = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    if isinstance(err, str):
        return {"message": err}
    return err if isinstance(err, dict) else {}


def _details(err: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    details = err.get("details")
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, dict) and str(d.get("@type", "")).endswith(kind)]


def retry_delay(err: dict[str, Any], response: httpx.Response) -> float | None:
    """``RetryInfo.retryDelay`` (``"41s"``), else a ``Retry-After`` header."""
    for info in _details(err, "google.rpc.RetryInfo"):
        match = _DELAY.match(str(info.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def named_field(message: str) -> str | None:
    """The gateway's name of the Veo field a message names (``durationSeconds`` -> ``seconds``)."""
    match = _FIELD.search(message)
    return FIELDS[match.group(1)] if match else None


def policy_refusal(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in POLICY_WORDS)


def error_from_response(response: httpx.Response) -> UpstreamError:
    """A Gemini API refusal as an :class:`UpstreamError` (never quoting the key: Google's texts do not)."""
    err = _envelope(response)
    status = response.status_code
    word = str(err.get("status") or "")
    message = str(err.get("message") or f"Gemini API answered HTTP {status}")
    reasons = {str(info.get("reason")) for info in _details(err, "google.rpc.ErrorInfo")}
    text = f"Veo: {message}" + (f" ({word})" if word else "")
    key_words = status in (400, 403) and any(w in message.lower() for w in KEY_WORDS)
    if status == 401 or reasons & KEY_REASONS or key_words:
        return UpstreamError(401, text, type="authentication_error", code="invalid_api_key")
    if status == 429 or word == "RESOURCE_EXHAUSTED":
        return UpstreamError(
            429, text, type="rate_limit_error", code="rate_limited", retry_after=retry_delay(err, response)
        )
    if status >= 500:
        return UpstreamError(status, text, type="server_error", code="upstream_error")
    if word == "FAILED_PRECONDITION":  # the account (location, billing tier): the operator's to fix, not the request
        return UpstreamError(403, text, type="upstream_error", code="upstream_refused")
    if status == 403:
        return UpstreamError(403, text, type="permission_error", code="permission_denied")
    if status == 404:
        return UpstreamError(404, text, type="invalid_request_error", code="not_found")
    if status == 400 and policy_refusal(message):
        return UpstreamError(400, text, type="invalid_request_error", code="moderation_blocked")
    if status == 400:
        return UpstreamError(400, text, type="invalid_request_error", code="invalid_value", param=named_field(message))
    return UpstreamError(status, text, type="upstream_error", code="upstream_error")


def operation_error(error: Any) -> dict[str, str]:
    """A finished operation's ``error`` (``google.rpc.Status``; a bare string tolerated) as the job's error."""
    if isinstance(error, dict):
        number = error.get("code")
        message = str(error.get("message") or "no message")
    else:
        number, message = None, str(error)
    word = CANONICAL.get(number, f"code {number}") if isinstance(number, int) else "error"
    text = f"Veo operation failed ({word}): {message}"
    if number == 3:  # INVALID_ARGUMENT: a policy rejection of the prompt, or a value it would not take
        return {"code": "moderation_blocked" if policy_refusal(message) else "invalid_value", "message": text}
    return {"code": "video_generation_failed", "message": text}


def filtered(reasons: Any, count: Any) -> dict[str, str]:
    """Veo's safety filter: no video, ``raiMediaFilteredReasons`` saying why (never charged, never retried)."""
    said = [str(r).strip() for r in reasons if str(r).strip()] if isinstance(reasons, list) else []
    why = " ".join(said) or "no reason given"
    return {"code": "moderation_blocked", "message": f"Veo's safety filter blocked {count or 1} video(s): {why}"}
