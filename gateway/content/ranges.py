"""One ``Range: bytes=…`` header against a known size (what the S3 backend streams through)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def is_digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` and ``int`` also take ``²``, ``٣`` or ``U+FF15`` (a header's raw bytes
    arrive as latin-1 text: the byte 0xB2 is ``²``), which no byte range is written with."""
    return _DIGITS.fullmatch(text) is not None


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"bytes */{size}")
        self.size = size


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte asked for, or ``None`` for the whole object.

    A header that is not one ``bytes`` range (several ranges, another unit, garbage) is ignored, as
    RFC 9110 allows: the whole object is sent. A range that starts past the end is unsatisfiable.
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.strip().partition("-"))
    if not dash or not all(is_digits(part) for part in (first, last) if part) or not (first or last):
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count <= 0:
            raise RangeNotSatisfiable(size)
        return (max(size - count, 0), size - 1) if size else None
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        raise RangeNotSatisfiable(size)
    if start < 0 or end < start:
        return None
    return start, min(end, size - 1)
