"""Ark's refusals and failed tasks in the gateway's words.

Every non-2xx answer of the Ark data plane is ``{"error": {"code", "message", "param", "type"}}`` with a real
HTTP status (docs.byteplus.com/docs/ModelArk/1299023 "Common Error Codes"; the vendor SDK reads
``body.get("error", body)``); ``message`` ends with "Request id: ...". A failed task carries ``error: {"code",
"message"}`` with the same codes. Mapping:

| Ark | gateway |
|---|---|
| 400 ``Input*`` / ``Output*SensitiveContentDetected*``, ``SensitiveContentDetected*`` | 400 ``moderation_blocked`` |
| 400 ``InvalidParameter*`` / ``MissingParameter*`` | 400 ``invalid_value``, ``param`` the client's field |
| 401 ``AuthenticationError`` | 401 ``invalid_api_key`` |
| 403 ``AccountOverdueError`` | 429 ``quota_exhausted`` (the account cannot pay: another upstream may) |
| 403 ``AccessDenied``, ``OperationDenied.*`` | 403 ``permission_denied`` |
| 404 ``InvalidEndpointOrModel.*``, ``InvalidEndpoint.*``, ``ModelNotOpen`` | 404 ``model_not_found`` |
| 404 other (``ResourceNotFound``, ``NotFound.*``) | 404 ``not_found`` |
| 429 ``QuotaExceeded`` (trial used up or too many queued tasks), ``SetLimitExceeded`` | 429 ``quota_exhausted`` |
| 429 ``*RateLimitExceeded*``, ``ServerOverloaded``, ``RequestBurstTooFast`` ... | 429 ``rate_limited`` |
| 5xx ``InternalServiceError`` | the same status, ``upstream_error`` (retried) |
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from gateway.upstreams.base import UpstreamError
from gateway.upstreams.http import retry_after_of

MODERATION = re.compile(r"^(Input|Output)\w*SensitiveContentDetected|^SensitiveContentDetected")
QUOTA_CODES = ("QuotaExceeded", "SetLimitExceeded", "AccountOverdueError")
MODEL_CODES = ("InvalidEndpointOrModel", "InvalidEndpoint", "ModelNotOpen")
# Ark's field -> the client's field of the same meaning (a refusal names what the client sent)
FIELDS = {
    "ratio": "size",
    "resolution": "size",
    "duration": "seconds",
    "frames": "seconds",
    "seed": "seed",
    "model": "model",
    "callback_url": "callback_url",
}
_NAMED = re.compile(r"parameter `?([\w.\[\]]+)`?")


def client_field(param: str | None, message: str = "") -> str | None:
    """The client's name for the Ark field a refusal names (``param``, else the message's "parameter `x`")."""
    name = param or ""
    if not name:
        match = _NAMED.search(message)
        name = match.group(1) if match else ""
    if not name:
        return None
    if name.startswith("content"):
        return "input_reference" if any(k in name for k in ("image", "[1]", "[2]")) else "prompt"
    return FIELDS.get(name.split(".")[0].split("[")[0], None)


def _reason(code: str, message: str) -> str:
    text = message.strip() or "no message"
    return f"Ark Seedance: {text}" + (f" ({code})" if code else "")


def task_error(raw_status: str, error: Any) -> dict[str, str] | None:
    """A finished task's ``error`` (``failed``), or what ``cancelled`` / ``expired`` mean, as the job's error."""
    if raw_status == "cancelled":
        return {"code": "cancelled", "message": "Ark Seedance: the task was cancelled."}
    if raw_status == "expired":
        return {
            "code": "upstream_lost",
            "message": "Ark Seedance: the task expired (execution_expires_after) before it finished.",
        }
    if raw_status != "failed":
        return None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    message = str(error.get("message") or "") if isinstance(error, dict) else str(error or "")
    text = _reason(code, message or "the generation failed")
    if MODERATION.match(code):
        return {"code": "moderation_blocked", "message": text}
    if code.startswith(("InvalidParameter", "MissingParameter")):
        return {"code": "invalid_value", "message": text}
    return {"code": "video_generation_failed", "message": text}


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    err = body.get("error", body)
    return err if isinstance(err, dict) else {"message": str(err)}


def read_error(response: httpx.Response) -> UpstreamError:
    """An Ark refusal as an :class:`UpstreamError` (the ``errors=`` reader of its UpstreamHttp)."""
    status = response.status_code
    err = _envelope(response)
    code = str(err.get("code") or "")
    message = str(err.get("message") or f"Ark answered HTTP {status}")
    text = _reason(code, message)
    param = err.get("param") if isinstance(err.get("param"), str) else None
    if status == 401 or code == "AuthenticationError":
        return UpstreamError(401, text, type="authentication_error", code="invalid_api_key")
    if code.startswith(QUOTA_CODES):
        return UpstreamError(
            429, text, type="rate_limit_error", code="quota_exhausted", retry_after=retry_after_of(response)
        )
    if status == 429:
        return UpstreamError(
            429, text, type="rate_limit_error", code="rate_limited", retry_after=retry_after_of(response)
        )
    if status >= 500:
        return UpstreamError(
            status, text, type="server_error", code="upstream_error", retry_after=retry_after_of(response)
        )
    if MODERATION.match(code):
        return UpstreamError(400, text, type="invalid_request_error", code="moderation_blocked")
    if status == 403:
        return UpstreamError(403, text, type="permission_error", code="permission_denied")
    if status == 404:
        found = "model_not_found" if code.startswith(MODEL_CODES) else "not_found"
        return UpstreamError(
            404, text, type="invalid_request_error", code=found, param="model" if found != "not_found" else None
        )
    if status == 400:
        field = client_field(param, message)
        return UpstreamError(400, text, type="invalid_request_error", code="invalid_value", param=field)
    return UpstreamError(status, text, type="upstream_error", code="upstream_error")


def cdn_error(response: httpx.Response) -> UpstreamError:
    """A refused download of a result URL (never echoing the URL: its signature grants the file)."""
    if response.status_code in (401, 403, 404, 410):
        return UpstreamError(404, "The Ark Seedance video URL expired or is gone.", code="content_expired")
    return UpstreamError(response.status_code, f"Ark's result storage answered HTTP {response.status_code}.")
