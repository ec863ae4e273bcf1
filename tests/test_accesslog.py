"""The access log's direct JSON lines: the same keys as structlog's ``request`` lines, secrets masked."""

from __future__ import annotations

import io
import json

import pytest

from gateway import observability
from gateway.accesslog import write_poll_line, write_request_line


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


def slow_redact(value: str) -> str:
    """``redact`` without its shortcut: the three substitutions and the registered secrets, always."""
    value = observability._URL_USERINFO.sub(r"\1***@", value)
    value = observability._CALLBACK_TOKEN.sub(r"\1***", value)
    for secret in observability._KNOWN_SECRETS:
        value = value.replace(secret, "***")
    return observability._SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", value)


@pytest.mark.parametrize(
    "text",
    [
        "/v1/videos/video_0123456789abcdef",
        "req_b7cf4ad7d4975063000000000a6dc5b1",
        "/v1/videos/SK-LIVE-abcdefgh",
        "bearer abc.def",
        "BEARER\ttoken-value",
        "HTTPS://user:pw@example.com/x",
        "/v1/gateway/upstream-callbacks/minimax/video_1/s3cr3t-token",
        "a registered-secret-value-here inside",
        "",
    ],
)
def test_the_redaction_shortcut_masks_exactly_what_the_full_pass_does(text: str) -> None:
    observability.register_secret("registered-secret-value-here")
    assert observability.redact(text) == slow_redact(text)


def test_the_timestamp_is_iso_utc_with_microseconds() -> None:
    from datetime import UTC, datetime

    from gateway.accesslog import _timestamp

    for now in (1796392885.0, 1796392885.483403, 1796392885.9999996, 1796392886.000001):
        expected = datetime.fromtimestamp(now, UTC)
        got = datetime.strptime(_timestamp(now), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs((got - expected).total_seconds()) <= 1e-6, (now, _timestamp(now))


def test_a_cached_metric_child_is_the_one_labels_gives() -> None:
    from gateway.observability import REQUESTS, child

    first = child(REQUESTS, "retrieve_video", "GET", "200", "acme")
    assert first is REQUESTS.labels("retrieve_video", "GET", "200", "acme")
    assert child(REQUESTS, "retrieve_video", "GET", "200", "acme") is first
    assert child(REQUESTS, "retrieve_video", "GET", "404", "acme") is not first


@pytest.mark.parametrize(
    ("request_id", "path"),
    [
        ("req_0123456789abcdef", "/v1/videos/video_0123456789abcdef"),
        ("Bearer sk-client-sent-this-as-an-id", "/v1/videos/video_0123456789abcdef"),
        ("req_2", "/v1/videos/video_sk-live-secret-value-123456"),
        ('odd "quoted" \\ id', "/v1/videos/vidéo_ünïcode"),
    ],
)
def test_a_poll_line_is_the_request_line_to_the_character(
    monkeypatch: pytest.MonkeyPatch, request_id: str, path: str
) -> None:
    monkeypatch.setattr(observability.LOG_SETUP, "info", True)
    lines = []
    for write in (write_request_line, write_poll_line, write_poll_line):  # the second poll line reuses the first's
        stream = io.StringIO()
        monkeypatch.setattr(observability.LOG_SETUP, "json_stream", stream)
        monkeypatch.setattr("gateway.accesslog.time.time", lambda: 1796479854.25)
        given = {**fields(), "path": path, "video_id": path.rsplit("/", 1)[1], "latency_ms": 0.07}
        write(request_id, given)
        lines.append(stream.getvalue())
    assert lines[0] == lines[1] == lines[2], lines
    assert "secret-value" not in lines[1] and "sk-client" not in lines[1]
    assert json.loads(lines[1])["latency_ms"] == 0.07
