"""Logs end to end: JSON lines on stdout, one event per request and per job transition, request ids
accepted and returned, levels and formats configurable, and no secret in the logs of a full run.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.conftest import KEYS, UPSTREAM_KEY, Gateway, start_gateway
from tests.procs import Proc, free_port

BAD_KEY = "sk-live-notakey-abcdefghijklmnop"


@dataclass
class Run:
    gw: Gateway
    lines: list[str]
    events: list[dict[str, Any]]
    sent: dict[str, int] = field(default_factory=dict)  # request id -> status the client got
    videos: list[str] = field(default_factory=list)


def request(http: httpx.Client, run: Run, method: str, url: str, rid: str, **kw: Any) -> httpx.Response:
    response = http.request(method, url, headers={"x-request-id": rid, **kw.pop("headers", {})}, **kw)
    assert response.headers["x-request-id"] == rid, "the client's request id must come back"
    run.sent[rid] = response.status_code
    return response


def finish(http: httpx.Client, run: Run, video_id: str, tag: str) -> None:
    for i in range(600):
        body = request(http, run, "GET", f"/v1/videos/{video_id}", f"{tag}-poll-{i}").json()
        if body["status"] in ("completed", "failed"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{video_id} did not finish")


@pytest.fixture(scope="module")
def run(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A full run with the default (JSON) logs: every kind of request, then a graceful stop."""
    tmp = tmp_path_factory.mktemp("logs")
    gw = start_gateway(simulator, tmp, f"sqlite:///{tmp / 'gw.db'}")
    result = Run(gw, [], [])
    with gw.http("acme") as http:
        video = request(http, result, "POST", "/v1/videos", "trace-create-1", json={"prompt": "a quiet harbour"})
        result.videos.append(video.json()["id"])
        finish(http, result, result.videos[0], "trace")
        request(http, result, "GET", f"/v1/videos/{result.videos[0]}/content", "trace-download")
        remix = request(
            http, result, "POST", f"/v1/videos/{result.videos[0]}/remix", "trace-remix", json={"prompt": "b"}
        )
        result.videos.append(remix.json()["id"])
        finish(http, result, result.videos[1], "remix")
        request(http, result, "DELETE", f"/v1/videos/{result.videos[1]}", "trace-delete")
        request(http, result, "GET", "/v1/videos", "trace-list")
        # a prompt the upstream refuses, carrying a tenant key, in case a refusal gets logged verbatim
        request(http, result, "POST", "/v1/videos", "trace-moderated", json={"prompt": f"forbidden {KEYS['globex']}"})
        request(http, result, "GET", "/nowhere", "trace-404")
    for name, key in (("bad", BAD_KEY), ("upstream", UPSTREAM_KEY)):  # wrong keys, one the upstream's own
        with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key}"}) as stranger:
            request(stranger, result, "GET", "/v1/videos", f"trace-401-{name}")
    # a request id that is not a sane token is replaced; one that is a key must not be logged as is
    odd = httpx.get(gw.url + "/v1/models", headers={"x-request-id": "two words", "Authorization": "Bearer x"})
    assert odd.headers["x-request-id"] != "two words" and re.fullmatch(r"[\w.:/+=@-]+", odd.headers["x-request-id"])
    httpx.get(gw.url + "/v1/videos", headers={"x-request-id": KEYS["acme"]})  # a 401, logged
    OpenAI(base_url=gw.url + "/v1", api_key=KEYS["acme"], max_retries=0).videos.list(limit=1)
    gw.proc.stop()
    result.lines = [line for line in gw.proc.logs().splitlines() if line.strip()]
    result.events = [json.loads(line) for line in result.lines]
    yield result


def test_every_line_is_one_json_event_with_level_and_time(run: Run) -> None:
    assert len(run.events) == len(run.lines) > 20
    for event in run.events:
        assert event["event"] and event["level"] in ("debug", "info", "warning", "error", "critical")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", event["timestamp"])
    assert any(e.get("logger", "").startswith("uvicorn") for e in run.events), "uvicorn's own lines are JSON too"


def test_one_request_event_per_request_with_id_tenant_video_upstream_latency(run: Run) -> None:
    requests = [e for e in run.events if e["event"] == "request"]
    for rid, status in run.sent.items():
        mine = [e for e in requests if e["request_id"] == rid]
        assert len(mine) == 1, f"{rid}: {len(mine)} request events"
        assert mine[0]["status"] == status and isinstance(mine[0]["latency_ms"], float)
    create = next(e for e in requests if e["request_id"] == "trace-create-1")
    assert create["route"] == "create_video" and create["method"] == "POST" and create["tenant"] == "acme"
    assert create["video_id"] == run.videos[0] and create["upstream"] == "openai-2025-10"
    for rid in ("trace-download", "trace-delete", "trace-poll-0"):
        event = next(e for e in requests if e["request_id"] == rid)
        assert event["video_id"] in run.videos and event["upstream"] == "openai-2025-10"
    assert next(e for e in requests if e["request_id"] == "trace-401-bad")["tenant"] == "-"
    assert next(e for e in requests if e["request_id"] == "trace-404")["route"] == "unmatched"
    accepted = next(e for e in run.events if e["event"] == "job_accepted" and e["video_id"] == run.videos[0])
    assert accepted["request_id"] == "trace-create-1", "events inside a request carry its id"
    assert not any(e.get("path") in ("/healthz", "/metrics") for e in requests), "probes are not logged"


def test_each_job_transition_is_one_event_with_video_tenant_upstream(run: Run) -> None:
    for video_id in run.videos:
        moves = [e for e in run.events if e["event"] == "job_transition" and e["video_id"] == video_id]
        assert moves, f"no transitions logged for {video_id}"
        assert moves[0]["from_status"] == "queued" and moves[-1]["status"] == "completed"
        for previous, move in itertools.pairwise(moves):
            assert move["from_status"] == previous["status"], "transitions chain without gaps"
        for move in moves:
            assert move["tenant"] == "acme" and move["upstream"] == "openai-2025-10"
            assert move["status"] != move["from_status"] and move["age_s"] >= 0


def test_no_secret_in_the_logs_of_a_full_run(run: Run) -> None:
    text = "\n".join(run.lines)
    for secret in (UPSTREAM_KEY, BAD_KEY, *KEYS.values()):
        assert secret not in text, f"a key leaked into the logs: {secret[:8]}..."
    assert "sk-acme***" in text, "a key-shaped request id is masked, not dropped"


def gateway_lines(gw: Gateway) -> list[str]:
    return [line for line in gw.proc.logs().splitlines() if line.strip()]


def test_level_from_the_environment_and_console_format(simulator: Proc, tmp_path: Path) -> None:
    quiet = start_gateway(simulator, tmp_path / "quiet", "memory://", env={"SORA_GATEWAY_LOG_LEVEL": "warning"})
    console = start_gateway(simulator, tmp_path / "console", "memory://", "--log-format", "console")
    try:
        for gw in (quiet, console):
            with gw.http("acme") as http:
                assert http.get("/v1/videos", headers={"x-request-id": "level-check"}).status_code == 200
    finally:
        quiet.proc.stop()
        console.proc.stop()
    quiet_events = [json.loads(line) for line in gateway_lines(quiet)]
    assert all(e["level"] in ("warning", "error", "critical") for e in quiet_events), "info lines at warning"
    lines = gateway_lines(console)
    shown = [line for line in lines if "request_id=level-check" in line]
    assert len(shown) == 1 and re.search(r"\[info\s*\] request\s", shown[0]) and "status=200" in shown[0]
    for line in lines:
        with pytest.raises(ValueError):
            json.loads(line)


def test_a_bad_log_level_stops_the_start() -> None:
    env = {"SORA_GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--store", "memory://", "--log-level", "chatty"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "--log-level" in done.stderr


def test_the_scrubber_masks_key_shaped_values_and_registered_secrets() -> None:
    script = """
from gateway.observability import configure_logging, log, register_secret
register_secret("opaque-upstream-secret-42")
configure_logging("info", "json")
log.info("x", authorization="Bearer abc", api_key="k1", note="token sk-proj-ABCDEFGHIJKLMN and Bearer zzz",
         url="https://h/?key=opaque-upstream-secret-42")
import logging; logging.getLogger("lib").warning("stdlib sk-live-QRSTUVWXYZ123456")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30).stdout
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["authorization"] == "***" and first["api_key"] == "***"
    assert "ABCDEFGHIJKLMN" not in first["note"] and "zzz" not in first["note"] and "sk-proj***" in first["note"]
    assert "opaque-upstream-secret-42" not in out
    assert second["logger"] == "lib" and "QRSTUVWXYZ" not in second["event"]


def test_demo_logs_are_human_readable_lines() -> None:
    port = free_port()
    demo = Proc(["demo", "--port", str(port), "--time-scale", "0.004"], port).start()
    try:
        key = re.search(r"demo key\s+(\S+)", demo.logs())
        for _ in range(100):
            key = key or re.search(r"demo key\s+(\S+)", demo.logs())
            if key:
                break
            time.sleep(0.05)
        assert key, demo.logs()
        headers = {"Authorization": f"Bearer {key.group(1)}", "x-request-id": "demo-check"}
        assert httpx.get(demo.url + "/v1/videos", headers=headers).status_code == 200
        for _ in range(100):
            if "request_id=demo-check" in demo.logs():
                break
            time.sleep(0.05)
    finally:
        demo.stop()
    line = next(line for line in demo.logs().splitlines() if "request_id=demo-check" in line)
    assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z \[info\s*\] request\s", line), line


SHORT_PASSWORD = "Pw9z"  # too short to register as a secret: the URL's userinfo itself must be hidden
LONG_PASSWORD = "url-Password-0123456789"
QUERY_KEY = "AIzaQueryKey0123456789abcdef"


@pytest.mark.parametrize("how", ["flag", "config"])
def test_upstream_url_credentials_are_never_shown(simulator: Proc, tmp_path: Path, how: str) -> None:
    """``--upstream http://user:PASS@host/v1`` (or an ``upstreams:`` entry with a ``?key=``): the unauthenticated
    /readyz and every log line show the URL with its userinfo and query secrets masked."""
    port = simulator.url.rsplit(":", 1)[1]
    extra: list[str] = []
    config = "detect_interval_s: 0\n"
    if how == "flag":
        extra = ["--upstream", f"http://alice:{SHORT_PASSWORD}@127.0.0.1:{port}/v1"]
    else:
        config += (
            "upstreams:\n"
            f"  - {{url: 'http://bob:{LONG_PASSWORD}@127.0.0.1:{port}/v1', api_key_env: SG_TEST_UP_KEY}}\n"
            f"  - {{url: 'http://127.0.0.1:{port}/v1?key={QUERY_KEY}&region=eu', api_key_env: SG_TEST_UP_KEY}}\n"
        )
    gw = start_gateway(simulator, tmp_path, "memory://", *extra, config=config, env={"SG_TEST_UP_KEY": UPSTREAM_KEY})
    try:
        ready = httpx.get(gw.url + "/readyz", timeout=10)
        shown = [u["url"] for u in ready.json()["checks"]["upstream"]["upstreams"]]
        names = [u["name"] for u in ready.json()["checks"]["upstream"]["upstreams"]]
    finally:
        gw.proc.stop()
    logs = gw.proc.logs()
    started = next(json.loads(line) for line in logs.splitlines() if '"gateway_started"' in line)
    for secret in (SHORT_PASSWORD, LONG_PASSWORD, QUERY_KEY, "alice", "bob"):
        assert secret not in ready.text, (secret, ready.text)
        assert secret not in logs, secret
    if how == "flag":
        assert shown == [f"http://***@127.0.0.1:{port}/v1"]
    else:
        assert shown == [f"http://***@127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/v1?key=***&region=eu"]
        assert names == [f"127.0.0.1:{port}", f"127.0.0.1:{port}#2"]
    assert started["upstream"] in shown  # the upstream new jobs go to, masked as /readyz shows it


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:PASS@host:8/v1", "http://***@host:8/v1"),
        ("https://host/v1beta?key=AIza123&alt=json", "https://host/v1beta?key=***&alt=json"),
        (
            "https://h/v1?access_token=t&x-amz-signature=s&region=eu&flag",
            "https://h/v1?access_token=***&x-amz-signature=***&region=eu&flag",
        ),
        ("https://u%40x:p%3Aw@h/p", "https://***@h/p"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ],
)
def test_redact_url_masks_userinfo_and_secret_query_values(url: str, shown: str) -> None:
    from gateway.observability import redact
    from gateway.urls import redact_url

    assert redact_url(url) == shown
    assert "PASS" not in redact(f"could not reach {url}: refused")  # free text in a log line too
