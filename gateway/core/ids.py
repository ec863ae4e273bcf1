"""Gateway-owned identifiers, shaped like OpenAI's (``video_`` + 48 hex digits)."""

from __future__ import annotations

import secrets
import time


def new_video_id() -> str:
    """A time-prefixed id (microseconds): sorts by creation, unguessable in its random part."""
    return f"video_{time.time_ns() // 1000:014x}{secrets.token_hex(17)}"


def new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"
