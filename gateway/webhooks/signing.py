"""Standard Webhooks signing: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

The secret is ``whsec_<base64>``; the HMAC key is the decoded bytes (https://www.standardwebhooks.com).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

PREFIX = "whsec_"


class SecretError(ValueError):
    pass


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; :class:`SecretError` when it is not one."""
    if not secret.startswith(PREFIX):
        raise SecretError("a webhook secret must look like 'whsec_<base64>'")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("the part after 'whsec_' must be base64") from None
    if len(key) < 16:
        raise SecretError("a webhook secret must decode to at least 16 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """True when any ``v1,`` signature in ``header`` (space separated) matches (for receivers and tests)."""
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(part, expected) for part in header.split())
