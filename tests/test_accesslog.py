"""The access log's direct JSON lines: the same keys as structlog's ``request`` lines, secrets masked."""

from __future__ import annotations

import io
import json

import pytest

from gateway import observability
from gateway.accesslog import write_request_line


def fields() -> dict[str, object]:
    return {
        "method": "GET",
        "route": "retrieve_video",
        "path": "/v1/videos/sk-live-secret-value-123456",
        "status": 200,
        "tenant": "acme",
        "video_id": None,
        "upstream": "kling",
        "latency_ms": 0.42,
    }


def test_a_direct_line_is_one_json_object_with_the_request_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(observability.LOG_SETUP, "json_stream", stream)
    monkeypatch.setattr(observability.LOG_SETUP, "info", True)
    write_request_line("Bearer sk-client-sent-this-as-an-id", fields())
    write_request_line("req_0001", fields())
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(first) == {*fields(), "event", "request_id", "level", "timestamp"}
    assert (first["event"], first["level"], first["status"], first["latency_ms"]) == ("request", "info", 200, 0.42)
    assert "secret-value" not in first["path"] and "sk-client" not in first["request_id"], first
    assert second["request_id"] == "req_0001" and first["timestamp"].endswith("Z")


def test_no_line_above_info_and_structlog_when_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(observability.LOG_SETUP, "json_stream", stream)
    monkeypatch.setattr(observability.LOG_SETUP, "info", False)
    write_request_line("req_1", fields())
    assert stream.getvalue() == ""
    seen: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(observability.LOG_SETUP, "info", True)
    monkeypatch.setattr(observability.LOG_SETUP, "json_stream", None)
    monkeypatch.setattr("gateway.accesslog.log", type("L", (), {"info": lambda _, e, **kw: seen.append((e, kw))})())
    write_request_line("req_2", fields())
    assert seen and seen[0][0] == "request" and seen[0][1]["route"] == "retrieve_video"
