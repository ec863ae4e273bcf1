"""Hostile-input checks for request bodies: JSON that is too deep, text that cannot be UTF-8.

Python's ``json`` accepts ``"\\ud800"`` (a lone UTF-16 surrogate) and recurses once per nesting
level, so ``[`` x 100,000 raises ``RecursionError``. Neither may get past a face: a surrogate
cannot be encoded as UTF-8, so a record holding one could never be sent upstream or back to a
client. Both are refused here, as 400s naming the field, before anything is kept.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import invalid

MAX_DEPTH = 32  # a create body is an object of scalars and one level of objects; 32 is generous


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, refusing what is not JSON, nests too deep, or holds text that is not UTF-8."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise invalid(f"The JSON body nests deeper than {MAX_DEPTH} levels.", None, "invalid_json") from None
    except (ValueError, UnicodeDecodeError):
        raise invalid("We could not parse the JSON body of your request.", None, "invalid_json") from None
    check_value(data)
    return data


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(data: Any) -> None:
    """Walk ``data`` without recursion: refuse nesting over :data:`MAX_DEPTH` and non-UTF-8 text.

    The error's ``param`` is the top-level field the bad text sits under.
    """
    stack: list[tuple[Any, int, str | None]] = [(data, 0, None)]
    while stack:
        value, depth, field = stack.pop()
        if depth > MAX_DEPTH:
            raise invalid(f"The JSON body nests deeper than {MAX_DEPTH} levels.", field, "invalid_json")
        if isinstance(value, str):
            if not _is_utf8(value):
                raise _not_utf8(field)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = field if field is not None else str(key)
                if not _is_utf8(str(key)):
                    raise _not_utf8(None if field is None else field)
                stack.append((item, depth + 1, name))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)


def _not_utf8(field: str | None) -> Exception:
    where = f"'{field}'" if field else "the body"
    return invalid(
        f"Invalid {where}: the text contains a lone UTF-16 surrogate (e.g. \\ud800) and is not valid Unicode.",
        field,
        "invalid_unicode",
    )
