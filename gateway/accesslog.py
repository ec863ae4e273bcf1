"""The access log: one ``request`` line per request, built as one JSON string.

Every request is logged by default, so this line is on the hot path of every poll. Through structlog's
processor chain (context merge, level, time stamper, scrubber, renderer) it cost about 48 µs; built here
directly (the same keys, the same scrubbing of the path, one ``json`` call, one write) about 10 µs — the
difference between a fifth of a poll's CPU and a twentieth. Lines other than ``request`` still go through
structlog; with ``log_format: console`` (or before logging is configured) the access log does too.
"""

from __future__ import annotations

import json
import time
from typing import Any

from gateway.observability import LOG_SETUP, log, may_hold_secret, redact

_encode = json.JSONEncoder(separators=(", ", ": ")).encode
_string = json.encoder.encode_basestring_ascii  # what _encode makes of one string
_HEADS: dict[tuple[Any, ...], str] = {}  # a poll's line up to its latency, by everything in it
MAX_HEADS = 10_000
CLIENT_TEXT = ("path", "video_id")


class _Second:
    at = -1
    text = ""


def _timestamp(now: float) -> str:
    """ISO 8601 UTC with microseconds, as structlog's; the date and time formatted once per second."""
    second = int(now)
    if second != _Second.at:
        _Second.text, _Second.at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)), second
    return f"{_Second.text}.{min(999_999, round((now - second) * 1_000_000)):06d}Z"


def _mask(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the client's text in it masked (in place)."""
    for name in CLIENT_TEXT:
        if fields.get(name):
            fields[name] = redact(fields[name])
    return fields


def write_request_line(request_id: str, fields: dict[str, Any]) -> None:
    """One ``request`` line; ``fields`` holds the request's own values (method, route, path, ...)."""
    if not LOG_SETUP.info:
        return
    stream = LOG_SETUP.json_stream
    if stream is None:
        log.info("request", **fields)
        return
    client_text = "\n".join([request_id, *(str(fields.get(name) or "") for name in CLIENT_TEXT)])
    if may_hold_secret(client_text):  # what a client wrote may hold a key (a request id, a path): masked
        _mask(fields)
        request_id = redact(request_id)
    fields["event"] = "request"
    fields["request_id"] = request_id
    fields["level"] = "info"
    fields["timestamp"] = _timestamp(time.time())
    stream.write(_encode(fields) + "\n")
    stream.flush()  # the log's writer thread takes it from here (logsink.py)


def write_poll_line(request_id: str, fields: dict[str, Any]) -> None:
    """:func:`write_request_line` for a successful poll, to the same text: everything before ``latency_ms`` (the
    last of ``fields``) is the same for every poll of one video by one team, so it is encoded (and masked) once."""
    if not LOG_SETUP.info or LOG_SETUP.json_stream is None:
        write_request_line(request_id, fields)
        return
    key = tuple(fields.values())[:-1]
    head = _HEADS.get(key)
    if head is None:
        if len(_HEADS) >= MAX_HEADS:
            _HEADS.clear()
        known = _mask(dict(zip(list(fields)[:-1], key, strict=True)))
        head = _HEADS[key] = _encode(known)[:-1] + f", {_string(list(fields)[-1])}: "
    if may_hold_secret(request_id):
        request_id = redact(request_id)
    tail = f'"request_id": {_string(request_id)}, "level": "info", "timestamp": "{_timestamp(time.time())}"}}'
    LOG_SETUP.json_stream.write(f'{head}{fields[next(reversed(fields))]!r}, "event": "request", {tail}\n')
    LOG_SETUP.json_stream.flush()
