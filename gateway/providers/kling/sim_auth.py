"""The simulated Kling's auth: ``Authorization: Bearer <JWT>`` checked the way Kling documents it.

Keys given to the simulator (``--api-key``) are ``ACCESS:SECRET`` pairs (a key without ``:`` is a Kling API
key, taken as the bearer itself). The JWT is decoded here on its own (not with the dialect's code): header
``alg`` HS256, payload ``iss`` (the access key), ``exp`` and ``nbf`` as integers, HMAC-SHA256 signature with the
access key's secret. Refusals are HTTP 401 with Kling's codes: 1001 no header, 1002 not ``Bearer <token>`` or
not a decodable JWT, 1000 an unknown access key or a bad signature, 1003 ``nbf`` still ahead, 1004 ``exp``
passed. Without configured keys any well-formed, current token is taken (its signature cannot be checked).
The caller (whose tasks these are) is the access key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from starlette.requests import Request

from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import sim_of

AUTH_MESSAGES = {
    1000: "Authentication failed",
    1001: "Authorization is empty",
    1002: "Authorization is invalid",
    1003: "Authorization is not yet valid",
    1004: "Authorization has expired",
}


def kling_refusal(status: int, code: int, message: str) -> SimError:
    """A refusal rendered as Kling's ``{"code", "message", "request_id"}`` (see ``sim_profile.error_response``)."""
    return SimError(status, message, code=str(code))


def _auth_error(code: int) -> SimError:
    return kling_refusal(401, code, AUTH_MESSAGES[code])


def _segment(text: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError):
        raise _auth_error(1002) from None


def _claim(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _auth_error(1002)
    return value


def verify_jwt(token: str, secrets: dict[str, str] | None, now: float) -> str:
    """The access key of a valid token; Kling's 401 otherwise. ``secrets``: access key -> secret key (None: any
    key is taken, the signature is not checked)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise _auth_error(1002)
    header, payload = _segment(parts[0]), _segment(parts[1])
    if not isinstance(header, dict) or not isinstance(payload, dict) or header.get("alg") != "HS256":
        raise _auth_error(1002)
    issuer = payload.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _auth_error(1002)
    expires, not_before = _claim(payload, "exp"), _claim(payload, "nbf")
    if secrets is not None:
        secret = secrets.get(issuer)
        if secret is None:
            raise _auth_error(1000)
        signed = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        given = parts[2] + "=" * (-len(parts[2]) % 4)
        try:
            signature = base64.urlsafe_b64decode(given)
        except binascii.Error:
            raise _auth_error(1000) from None
        if not hmac.compare_digest(signed, signature):
            raise _auth_error(1000)
    if now < not_before:
        raise _auth_error(1003)
    if now >= expires:
        raise _auth_error(1004)
    return issuer


def auth(request: Request, config: SimulatorConfig) -> str:
    raw = request.headers.get("authorization", "")
    if not raw.strip():
        raise _auth_error(1001)
    scheme, sep, token = raw.partition(" ")
    if scheme != "Bearer" or not sep or not token or token != token.strip():
        raise _auth_error(1002)
    pairs = [key.partition(":") for key in config.api_keys]
    if "." in token:
        secrets = {ak: sk for ak, sep_, sk in pairs if sep_} if config.api_keys else None
        return verify_jwt(token, secrets, sim_of(request).now())
    plain = {ak for ak, sep_, _ in pairs if not sep_}
    if config.api_keys and token not in plain:
        raise _auth_error(1000)
    return token
