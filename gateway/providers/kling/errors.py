"""Kling's refusals -> :class:`UpstreamError` in the gateway's words.

Every Kling answer is ``{"code", "message", "request_id"[, "data"]}``: ``code`` 0 is success, anything else a
refusal (Kling's "Error Codes" page, ``kling.ai/document-api/api/get-started/error-codes``). The code decides,
not the HTTP status (a refusal inside an HTTP 200 is read the same way): rate and concurrency limits are 429
(the router moves such a job to the next upstream), a depleted resource pack is 429 ``quota_exhausted``, the
content-security refusal is 400 ``moderation_blocked``, an invalid parameter 400 ``invalid_value`` with Kling's
message.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.upstreams.base import UpstreamError
from gateway.upstreams.http import retry_after_of

# Kling code -> (HTTP status the gateway acts on, the gateway's error code)
CODES: dict[int, tuple[int, str]] = {
    1000: (401, "invalid_api_key"),  # authentication failed (bad signature, unknown access key)
    1001: (401, "invalid_api_key"),  # Authorization is empty
    1002: (401, "invalid_api_key"),  # Authorization is invalid
    1003: (401, "invalid_api_key"),  # not yet valid (nbf)
    1004: (401, "invalid_api_key"),  # expired (exp)
    1100: (429, "account_unavailable"),  # account exception
    1101: (429, "quota_exhausted"),  # account in arrears (postpaid)
    1102: (429, "quota_exhausted"),  # resource pack depleted or expired (prepaid)
    1103: (403, "permission_denied"),  # no access to this API or model
    1200: (400, "invalid_value"),  # invalid request parameters
    1201: (400, "invalid_value"),  # invalid parameter (wrong key or value): see the message
    1202: (404, "not_found"),  # the requested method is invalid
    1203: (404, "not_found"),  # the requested resource (task, model) does not exist
    1300: (400, "upstream_policy"),  # platform policy triggered
    1301: (400, "moderation_blocked"),  # content security policy triggered
    1302: (429, "rate_limited"),  # requests too fast
    1303: (429, "concurrency_limited"),  # concurrency over the resource pack's limit
    1304: (403, "permission_denied"),  # IP allow-list policy
    5000: (500, "server_error"),
    5001: (503, "service_unavailable"),
    5002: (504, "upstream_timeout"),  # a create may have been accepted: reconciled before any re-send
}


def envelope_error(body: Any, status: int, retry_after: float | None = None) -> UpstreamError:
    """The refusal a Kling envelope (``code != 0``) says; ``status``: the HTTP status it came with."""
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = str(body.get("message") or f"Kling answered HTTP {status}")
    if isinstance(code, int) and code in CODES:
        mapped, name = CODES[code]
        return UpstreamError(mapped, f"Kling {code}: {message}", code=name, retry_after=retry_after)
    label = f"Kling {code}: {message}" if isinstance(code, int) else message
    fallback = status if status >= 400 else 502  # an unknown refusal inside a 200 is the upstream's trouble
    return UpstreamError(fallback, label, retry_after=retry_after)


def kling_error(response: httpx.Response) -> UpstreamError:
    """``errors=`` reader of :class:`~gateway.upstreams.http.UpstreamHttp`: any non-2xx answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return envelope_error(body, response.status_code, retry_after_of(response))


def data_of(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer; a refusal inside an HTTP 200 raises like any other."""
    try:
        body = response.json()
    except ValueError:
        raise UpstreamError(502, "Kling answered something that is not JSON.") from None
    if not isinstance(body, dict) or body.get("code") != 0:
        raise envelope_error(body, response.status_code)
    return body.get("data")
