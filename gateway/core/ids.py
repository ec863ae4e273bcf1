"""Gateway-owned identifiers, shaped like OpenAI's (``video_`` + 48 hex digits)."""

from __future__ import annotations

import itertools
import os
import secrets
import time


def new_video_id() -> str:
    """A time-prefixed id (microseconds): sorts by creation, unguessable in its random part."""
    return f"video_{time.time_ns() // 1000:014x}{secrets.token_hex(17)}"


def new_batch_id() -> str:
    """``batch_`` + 32 hex digits, time-prefixed like a video id: batches list newest first by id."""
    return f"batch_{time.time_ns() // 1000:014x}{secrets.token_hex(9)}"


class _RequestIds:
    """``req_`` + 32 hex digits: a random per-process prefix and a counter (no syscall per request)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = f"req_{secrets.token_hex(8)}"
        self.counter = itertools.count(secrets.randbelow(1 << 32))

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_REQUEST_IDS = _RequestIds()
os.register_at_fork(after_in_child=_REQUEST_IDS.reseed)  # a forked worker never repeats its parent's ids


def new_request_id() -> str:
    return _REQUEST_IDS.next()
