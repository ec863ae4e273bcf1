"""Slow request bodies against a real gateway: one tenant cannot take every request slot, a trickle is cut.

``max_bodies_per_tenant`` bounds the bodies one team (or one key-less address) has in flight; beyond it a
429 ``too_many_request_bodies`` comes before the body is read, so another team's create still gets in
where, before, ``max_concurrent_requests`` slow bodies of one team made every other create a 503.
``body_min_rate_bps`` (after ``body_min_rate_grace_s``) cuts a body that trickles in with a 408 naming
the rule, long before ``body_timeout_s``; a slow but steady upload still goes through.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import ConfigError, build_settings
from tests.conftest import FAST_CONFIG, KEYS, Gateway, start_gateway, write_tenants
from tests.procs import Proc, wait_for

HOG_KEY = "sk-hog-slow-bodies-0123456789"


def key_of(tenant: str) -> str:
    return HOG_KEY if tenant == "hog" else KEYS[tenant]


def open_body(gw: Gateway, key: str | None, length: int = 1000) -> socket.socket:
    """A create whose headers and first body byte are sent, the rest never."""
    host, port = gw.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = f"POST /v1/videos HTTP/1.1\r\nHost: gw\r\n{auth}Content-Type: application/json\r\n"
    head += f"Content-Length: {length}\r\n\r\n"
    sock.sendall(head.encode() + b"{")
    return sock


def answers(socks: list[socket.socket], expected: int, timeout: float = 30.0) -> dict[socket.socket, bytes]:
    """Read what the gateway answers on ``socks`` until ``expected`` of them have a whole answer (then one more
    second, to see that no other one gets one): the sockets that were answered, with their answer."""
    got: dict[socket.socket, bytes] = {s: b"" for s in socks}
    for sock in socks:
        sock.setblocking(False)

    def whole(data: bytes) -> bool:
        return b"\r\n\r\n" in data and data.rstrip().endswith(b"}")

    def read() -> int:
        for sock in socks:
            try:
                got[sock] += sock.recv(65536)
            except (BlockingIOError, OSError):
                pass
        return sum(1 for data in got.values() if whole(data))

    wait_for(lambda: read() >= expected, f"{expected} answers", timeout)
    time.sleep(1.0)
    read()
    return {sock: data for sock, data in got.items() if whole(data)}


def error_in(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def gateway(simulator: Proc, tmp_path: Path, config: str, *extra: str) -> Gateway:
    policies = write_tenants(tmp_path / "policies", {"hog": "cache: {scope: off}\n"}, key_of)
    return start_gateway(simulator, tmp_path, "memory://", *extra, policies=policies, config=FAST_CONFIG + config)


def test_one_tenants_slow_bodies_leave_room_for_every_other_tenant(simulator: Proc, tmp_path: Path) -> None:
    config = "max_concurrent_requests: 20\nmax_bodies_per_tenant: 5\nbody_timeout_s: 120\nbody_idle_timeout_s: 120\n"
    gw = gateway(simulator, tmp_path, config, "--allow-anonymous")  # key-less creates read their body too
    hog = [open_body(gw, HOG_KEY) for _ in range(20)]  # as many as the whole process may serve
    keyless = [open_body(gw, None) for _ in range(8)]
    try:
        refused = answers(hog, 15)
        assert len(refused) == 15, "five bodies held, the other fifteen refused before being read"
        for answer in refused.values():
            status, error = error_in(answer)
            assert status == 429 and error["code"] == "too_many_request_bodies", error
            assert "max_bodies_per_tenant" in error["message"] and "team" in error["message"], error
        anonymous = answers(keyless, 3)
        assert len(anonymous) == 3  # key-less clients are counted by address
        assert all("client address" in error_in(a)[1]["message"] for a in anonymous.values())
        # another team's create goes through while the hog holds its five
        video = gw.client("globex").videos.create(prompt="room for everyone", seconds="4")
        assert video.status in ("queued", "in_progress")
        for sock in hog + keyless:
            sock.close()

        def hog_creates() -> bool:  # the slots of bodies that never finished are free once they are gone
            with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {HOG_KEY}"}) as http:
                return http.post("/v1/videos", json={"prompt": "the hog, politely", "seconds": "4"}).status_code == 200

        wait_for(hog_creates, "the hog's slots to be free again", 30)
    finally:
        for sock in hog + keyless:
            sock.close()
        gw.proc.stop()
    assert "Traceback" not in gw.proc.logs()


def test_a_burst_of_whole_small_bodies_needs_no_slots(simulator: Proc, tmp_path: Path) -> None:
    """Bodies that are already in (a burst of small creates the server has not read yet) are no slow
    uploads: with two slots, twelve at once are all answered by the quota rules, none refused for slots
    (nor left without an answer, which a refusal before the body is read risks: the client sees a reset)."""
    gw = gateway(simulator, tmp_path, "max_bodies_per_tenant: 2\nbody_timeout_s: 120\n")
    host, port = gw.url.removeprefix("http://").split(":")
    socks = []
    try:
        for i in range(12):
            body = json.dumps({"prompt": f"burst {i}", "seconds": "4"}).encode()
            sock = socket.create_connection((host, int(port)), timeout=30)
            head = f"POST /v1/videos HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {HOG_KEY}\r\n"
            sock.sendall(f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            socks.append(sock)
        answered = answers(socks, 12)
        assert len(answered) == 12
        assert all(a.startswith(b"HTTP/1.1 200") for a in answered.values()), [a[:200] for a in answered.values()]
    finally:
        for sock in socks:
            sock.close()
        gw.proc.stop()


def test_bodies_a_moment_behind_their_headers_wait_for_room_not_a_refusal(simulator: Proc, tmp_path: Path) -> None:
    """A busy client sends headers and body in two writes: with two slots, eight creates whose bodies come a
    second after their headers all wait (for a slot, or for their whole body) and are answered by the quota
    rules; none is refused for slots, none is left with a reset connection."""
    gw = gateway(simulator, tmp_path, "max_bodies_per_tenant: 2\nbody_timeout_s: 120\n")
    host, port = gw.url.removeprefix("http://").split(":")
    socks, bodies = [], []
    try:
        for i in range(8):
            body = json.dumps({"prompt": f"late body {i}", "seconds": "4"}).encode()
            sock = socket.create_connection((host, int(port)), timeout=30)
            head = f"POST /v1/videos HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {HOG_KEY}\r\n"
            sock.sendall(f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
            socks.append(sock)
            bodies.append(body)
        time.sleep(1.0)  # longer than a body used to be given when its client had no slot free
        for sock, body in zip(socks, bodies, strict=True):
            sock.sendall(body)
        answered = answers(socks, 8)
        assert len(answered) == 8
        assert all(a.startswith(b"HTTP/1.1 200") for a in answered.values()), [a[:300] for a in answered.values()]
    finally:
        for sock in socks:
            sock.close()
        gw.proc.stop()


def send_slowly(gw: Gateway, key: str, body: bytes, chunk: int, every_s: float, budget_s: float) -> tuple[float, bytes]:
    """Send ``body`` ``chunk`` bytes every ``every_s`` seconds; the seconds taken and the whole answer."""
    sock = open_body(gw, key, len(body) + 1)  # the "{" open_body sends is the body's first byte
    started, answer = time.monotonic(), b""
    sock.settimeout(every_s)
    try:
        for i in range(0, len(body), chunk):
            if time.monotonic() - started > budget_s:
                break
            try:
                sock.sendall(body[i : i + chunk])
            except OSError:
                break  # the gateway answered and closed
            try:
                answer += sock.recv(65536)
                if answer.rstrip().endswith(b"}"):
                    break
            except TimeoutError:
                pass
        sock.settimeout(30)
        while not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return time.monotonic() - started, answer


def test_a_trickling_body_is_cut_and_a_slow_steady_one_is_not(simulator: Proc, tmp_path: Path) -> None:
    config = "body_min_rate_bps: 1000\nbody_min_rate_grace_s: 2\nbody_timeout_s: 120\nbody_idle_timeout_s: 120\n"
    gw = gateway(simulator, tmp_path, config)
    try:
        # one byte every 0.25 s: 4 bytes/s, far below 1000 bytes/s; cut once the 2 s head start is spent
        padding = b'"prompt": "a trickle", "x": "' + b"." * 400 + b'"}'
        elapsed, answer = send_slowly(gw, KEYS["acme"], padding, 1, 0.25, budget_s=60)
        status, error = error_in(answer)
        assert status == 408 and error["code"] == "request_timeout", error
        assert "body_min_rate_bps" in error["message"], error
        assert elapsed < 60, "cut by the minimum rate, not by body_timeout_s"
        # 1 KB every 0.25 s (4 KB/s) for about 3 s: slow, but above the rate: it is read and answered
        steady = b'"prompt": "a steady upload", "seconds": "4", "negative_prompt": "' + b"n" * 12_000 + b'"}'
        _, answer = send_slowly(gw, KEYS["acme"], steady, 1024, 0.25, budget_s=60)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), answer[:400]
        assert json.loads(body)["prompt"] == "a steady upload"
    finally:
        gw.proc.stop()
    assert "Traceback" not in gw.proc.logs()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("max_bodies_per_tenant: -1", "max_bodies_per_tenant"),
        ("max_bodies_per_tenant: 2.5", "max_bodies_per_tenant"),
        ("body_min_rate_bps: -10", "body_min_rate_bps"),
        ("body_min_rate_grace_s: soon", "body_min_rate_grace_s"),
    ],
)
def test_the_body_settings_are_checked_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, reason: str
) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "sk-upstream-0000000000")
    path = tmp_path / "gateway.yaml"
    path.write_text(f"port: 8080\n{line}\n")
    with pytest.raises(ConfigError) as raised:
        build_settings({"config": str(path)})
    assert "gateway.yaml:2: " in str(raised.value) and reason in str(raised.value), raised.value
    defaults = build_settings({})
    assert (defaults.max_bodies_per_tenant, defaults.body_min_rate_bps, defaults.body_min_rate_grace_s) == (64, 500, 20)
