"""Who is calling: tenant keys are compared as ``sha256:`` hashes, never stored in clear."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable

from gateway.errors import ApiError
from gateway.policies.loader import PolicySet
from gateway.policies.model import ANONYMOUS, Tenant


@functools.lru_cache(maxsize=4096)  # a key polled a thousand times a second is hashed once
def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The key of an ``Authorization: Bearer <key>`` header ("" when there is none)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def is_admin_key(configured: str | None, authorization: str | None) -> bool:
    """Whether the header carries the gateway's admin key (``configured`` plain or in its ``sha256:`` form)."""
    token = bearer_token(authorization)
    if not configured or not token:
        return False
    given = hash_key(token) if configured.startswith("sha256:") else token
    return hmac.compare_digest(given.encode(), configured.encode())


def _masked(key: str) -> str:
    return (key[:3] + "*" * 4 + key[-4:]) if len(key) > 10 else "****"


class Authenticator:
    def __init__(self, policies: Callable[[], PolicySet], *, allow_anonymous: bool = False) -> None:
        self._policies = policies
        self.allow_anonymous = allow_anonymous

    def authenticate(self, authorization: str | None) -> Tenant:
        """Resolve an ``Authorization`` header to a tenant or raise a 401."""
        token = ""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer":
                token = ""
            token = token.strip()
        if not token:
            if self.allow_anonymous:
                return ANONYMOUS
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        tenant = self._policies().by_key_hash.get(hash_key(token))
        if tenant is None:
            raise ApiError(401, f"Incorrect API key provided: {_masked(token)}.", code="invalid_api_key")
        return tenant
