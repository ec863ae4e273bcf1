"""Property-based fuzzing of the create readers (hypothesis): JSON and multipart bodies through the real
Starlette request the faces use. Whatever the bytes, a reader returns a dict of UTF-8-clean values or
refuses with a 400 ``ApiError``; it never raises anything else, and a refused body keeps no file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from gateway.errors import ApiError
from gateway.faces.bodies import MAX_DEPTH, check_value, parse_json
from gateway.faces.http import read_body
from gateway.faces.openai_videos import CREATE_FIELDS

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udc80", "\ud83d"])
TEXT = st.lists(st.one_of(st.text(max_size=8), SURROGATES), max_size=4).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)


def request_of(body: bytes, content_type: str) -> Request:
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/videos",
        "headers": [(b"content-type", content_type.encode("latin-1"))],
        "query_string": b"",
    }
    return Request(scope, receive)


def read(body: bytes, content_type: str, uploads: Path) -> dict[str, Any] | ApiError:
    try:
        return asyncio.run(read_body(request_of(body, content_type), uploads, CREATE_FIELDS, ("prompt",)))
    except ApiError as exc:
        return exc


def utf8_clean(value: Any) -> bool:
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8") is not None


@FUZZ
@given(JSON_VALUES)
def test_any_json_value_is_read_or_refused_as_400(value: Any) -> None:
    raw = json.dumps(value).encode()  # ensure_ascii: surrogates travel as \\ud800 escapes, as an attacker sends them
    try:
        parsed = parse_json(raw)
    except ApiError as exc:
        assert exc.status == 400 and exc.code in ("invalid_json", "invalid_unicode"), exc.body()
        return
    assert utf8_clean(parsed)


@FUZZ
@given(st.binary(max_size=512) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_create_json_reader_never_fails_otherwise(tmp_path_factory: Any, body: bytes) -> None:
    got = read(body, "application/json", tmp_path_factory.mktemp("up"))
    if isinstance(got, ApiError):
        assert got.status == 400 and got.body()["error"]["message"], got.body()
    else:
        assert isinstance(got, dict) and "prompt" in got and utf8_clean(got)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=200_000))
def test_nesting_of_any_depth(depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        try:
            check_value(parse_json(raw))
            assert depth <= MAX_DEPTH + 1
        except ApiError as exc:
            assert exc.code == "invalid_json" and depth > MAX_DEPTH - 1


FIELD_NAMES = st.sampled_from(["prompt", "seconds", "size", "model", "input_reference", "bogus", "video[id]", "a[b]"])
PART = st.tuples(FIELD_NAMES, st.binary(max_size=64), st.booleans())


def multipart(parts: list[tuple[str, bytes, bool]], boundary: str = "fuzzboundary") -> bytes:
    out = b""
    for name, value, is_file in parts:
        disposition = f'form-data; name="{name}"' + ('; filename="f.png"' if is_file else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


@FUZZ
@given(st.lists(PART, max_size=6), st.binary(max_size=64), st.booleans())
def test_multipart_reader_never_fails_otherwise_and_keeps_no_file_when_refusing(
    tmp_path_factory: Any, parts: list[tuple[str, bytes, bool]], junk: bytes, corrupt: bool
) -> None:
    uploads = tmp_path_factory.mktemp("up")
    body = multipart(parts)
    if corrupt:
        body = body[: len(body) // 2] + junk
    got = read(body, "multipart/form-data; boundary=fuzzboundary", uploads)
    kept = list(uploads.iterdir()) if uploads.is_dir() else []
    if isinstance(got, ApiError):
        assert got.status == 400, got.body()
        assert kept == []  # checked before kept: nothing on disk for a refused body
    else:
        assert "prompt" in got and utf8_clean({k: v for k, v in got.items() if isinstance(v, str)})


# ``start-end`` parts written with ASCII digits, Unicode ones (² passes isdigit, int refuses it; ٣ and U+FF15 int
# reads) and odd spacing; the byte 0xB2 arrives as ``²`` (raw header bytes are latin-1 text)
RANGE_NUMBER = st.text(alphabet=st.sampled_from("0123456789²٣\uff15Ⅻ \xa0+_"), max_size=5)
RANGE_PART = st.builds(lambda a, d, b: a + d + b, RANGE_NUMBER, st.sampled_from(["-", "", "--"]), RANGE_NUMBER)
RANGE_SPEC = st.lists(RANGE_PART, min_size=1, max_size=3).map(",".join)
RANGE_TEXT = st.builds(str.__add__, st.sampled_from(["bytes=", "bytes =", "BYTES=", "", "items="]), RANGE_SPEC)


@FUZZ
@given(RANGE_TEXT | st.binary(max_size=24).map(lambda b: b.decode("latin-1")), st.integers(0, 5000))
def test_range_header_is_served_or_refused_never_raises_otherwise(header: str, size: int) -> None:
    """Any ``Range`` text (raw bytes arrive as latin-1: 0xB2 is ``²``): refused as a ``RangeProblem`` or
    accepted; when accepted, both the S3 parser and Starlette's file response read it without error."""
    from starlette.responses import FileResponse, MalformedRangeHeader
    from starlette.responses import RangeNotSatisfiable as StarletteUnsatisfiable

    from gateway.content.local import RangeProblem, check_range
    from gateway.content.ranges import parse_range

    try:
        check_range(header, size)
    except RangeProblem as exc:
        assert exc.status in (400, 416), exc.message
        return
    wanted = parse_range(header, size)  # what the S3 backend streams: one range or the whole object
    assert wanted is None or 0 <= wanted[0] <= wanted[1] < size
    try:
        FileResponse._parse_range_header(header, size)
    except (MalformedRangeHeader, StarletteUnsatisfiable):
        raise AssertionError(f"check_range accepted {header!r} that the file response refuses") from None
