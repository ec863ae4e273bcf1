"""Kling's API token: a short-lived JWT (HS256) signed with the account's secret key, renewed before it expires.

Kling's "Authentication" page: header ``{"alg": "HS256", "typ": "JWT"}``, payload ``{"iss": <access key>,
"exp": now + 1800, "nbf": now - 5}`` (Unix seconds), signed with the secret key; sent as
``Authorization: Bearer <token>``. The configured key is ``ACCESS:SECRET``; a key without ``:`` is a Kling
API key, sent as it is (the classic endpoints take either). Every minted token is registered as a secret
(masked in every log line). :class:`KlingAuth` signs only requests to the API's own origin and paths (never a
result URL on Kuaishou's CDN), and re-sends a request once with a fresh token when Kling answers 401 with
code 1003 (not yet valid) or 1004 (expired), as Kling advises for clock skew.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from gateway.observability import register_secret

LIFETIME_S = 1800  # Kling's documented example: now + 30 min
RENEW_BEFORE_S = 300  # a new token once the current one has less than this left
NOT_BEFORE_SKEW_S = 5  # nbf = now - 5, as Kling's sample does
RENEWABLE_CODES = frozenset({1003, 1004})  # 401: not yet valid / expired -> mint again, send once more
SIGNED_PATH_PREFIXES = ("/v1/", "/account/")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def encode_jwt(access_key: str, secret_key: str, now: int, lifetime_s: int) -> str:
    """The HS256 JWT Kling's docs describe, minted at ``now`` (Unix seconds)."""
    header = b64url(_json({"alg": "HS256", "typ": "JWT"}))
    payload = b64url(_json({"iss": access_key, "exp": now + lifetime_s, "nbf": now - NOT_BEFORE_SKEW_S}))
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret_key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


class KlingToken:
    """The bearer credential: a cached JWT minted from ``ACCESS:SECRET`` (or a plain API key, as it is)."""

    def __init__(
        self,
        key: str,
        *,
        lifetime_s: int = LIFETIME_S,
        renew_before_s: int = RENEW_BEFORE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        access, sep, secret = key.partition(":")
        self._access, self._secret = access.strip(), secret.strip()
        self.is_jwt = bool(sep and self._access and self._secret)
        self._api_key = "" if self.is_jwt else key.strip()
        if lifetime_s <= 0 or not 0 <= renew_before_s < lifetime_s:
            raise ValueError("a Kling token's renewal must come before its lifetime ends")
        self.lifetime_s = lifetime_s
        self.renew_before_s = renew_before_s
        self.clock = clock
        self.minted = 0  # tokens made so far (tests count renewals)
        self._token = ""
        self._expires = 0.0
        register_secret(self._secret)
        register_secret(self._api_key)

    def current(self, *, renew: bool = False) -> str:
        """The token to send now: the cached one while it has more than ``renew_before_s`` left, else a new one."""
        if not self.is_jwt:
            return self._api_key
        now = self.clock()
        if renew or not self._token or now >= self._expires - self.renew_before_s:
            minted_at = int(now)
            self._token = encode_jwt(self._access, self._secret, minted_at, self.lifetime_s)
            self._expires = minted_at + self.lifetime_s
            self.minted += 1
            register_secret(self._token)
        return self._token


def _kling_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


class KlingAuth(httpx.Auth):
    """Signs requests to ``origin`` (scheme, host, port) under Kling's API paths; nothing else."""

    def __init__(self, token: KlingToken, origin: httpx.URL) -> None:
        self.token = token
        self.origin = (origin.scheme, origin.host, origin.port)

    def signs(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == self.origin and url.path.startswith(SIGNED_PATH_PREFIXES)

    def _sign(self, request: httpx.Request, *, renew: bool = False) -> None:
        request.headers["Authorization"] = f"Bearer {self.token.current(renew=renew)}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.signs(request.url):
            yield request
            return
        self._sign(request)
        response = yield request
        if response.status_code == 401 and self.token.is_jwt:
            response.read()
            if _kling_code(response) in RENEWABLE_CODES:
                self._sign(request, renew=True)
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self.signs(request.url):
            yield request
            return
        self._sign(request)
        response = yield request
        if response.status_code == 401 and self.token.is_jwt:  # read only a refusal's body, never a video's
            await response.aread()
            if _kling_code(response) in RENEWABLE_CODES:
                self._sign(request, renew=True)
                yield request
