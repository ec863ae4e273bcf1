"""Callbacks and webhooks end to end: a real gateway, the simulator and a receiver on 127.0.0.1.

Signed Standard Webhooks deliveries, exactly one acknowledged per job and event, the same
``webhook-id`` on every retry, surviving a SIGKILL between completion and delivery and a receiver
that answers 500; per-request ``callback_url`` on create (JSON and the SDK's multipart), remix and the
seed dialect; the SSRF guard's refusals.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pytest

from gateway.webhooks.signing import verify
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Gateway, start_gateway, store_url, write_policies
from tests.dnsserver import DnsServer, resolving_with
from tests.procs import Proc, start_simulator, wait_for
from tests.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"acme-webhook-secret-bytes-0123").decode()
CONFIG = FAST_CONFIG + "callback_allow_nets: 127.0.0.0/8\nwebhook_retry_base_s: 0.3\nwebhook_retry_max_s: 1\n"


def hook_policies(root: Path, url: str) -> Path:
    body = f"webhooks:\n  url: {url}\n  secret: {SECRET}\n  events: [video.completed, video.failed]\n"
    return write_policies(root, {"acme": body})


def check_signed(received: list, video_id: str, event: str = "video.completed") -> None:  # type: ignore[type-arg]
    assert received, "nothing was delivered"
    ids = {r.headers["webhook-id"] for r in received}
    assert len(ids) == 1, f"retries must carry one webhook-id, got {ids}"
    for r in received:
        stamp = int(r.headers["webhook-timestamp"])
        assert abs(time.time() - stamp) < 600
        assert verify(SECRET, r.headers["webhook-id"], stamp, r.body, r.headers["webhook-signature"])
        assert r.headers["webhook-signature"].startswith("v1,")
        payload = r.json
        assert payload["type"] == event and payload["timestamp"].endswith("Z")
        assert payload["data"]["id"] == video_id and payload["data"]["object"] == "video"


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_one_signed_delivery_after_sigkill_and_two_500s(simulator: Proc, tmp_path: Path, kind: str) -> None:
    receiver = Receiver(fail_first=2).start()
    store = store_url(kind, tmp_path)
    policies = hook_policies(tmp_path / "policies", receiver.url + "/team-hook")
    gw = start_gateway(simulator, tmp_path / "a", store, config=CONFIG, policies=policies)
    gw2: Gateway | None = None
    try:
        if kind == "redis":  # a second live replica: it takes the delivery over, one attempt at a time
            gw2 = start_gateway(simulator, tmp_path / "b", store, config=CONFIG, policies=policies)
        video = gw.client().videos.create(prompt="a webhook lighthouse", seconds="4")
        wait_for(lambda: len(receiver.at("/team-hook")) >= 1, "the first delivery attempt", 60)
        gw.proc.kill()  # the job is completed, its delivery not acknowledged: SIGKILL now
        assert not receiver.acked("/team-hook")
        if gw2 is None:  # sqlite: the same store after a restart
            gw2 = start_gateway(simulator, tmp_path / "b", store, config=CONFIG, policies=policies)
        wait_for(lambda: len(receiver.acked("/team-hook")) == 1, "the acknowledged delivery", 60)
        got = gw2.http().get(f"/v1/videos/{video.id}").json()
        time.sleep(2.0)  # any duplicate would come within a few retry periods
        received = receiver.at("/team-hook")
        assert [r.status for r in received] == [500, 500, 200], [r.status for r in received]
        check_signed(received, video.id)
        assert received[-1].json["data"] == got, "data is the video object as GET returns it"
        assert got["status"] == "completed"
        metrics = httpx.get(gw2.url + "/metrics").text
        sent = 'sora_gateway_webhook_deliveries_total{event="video.completed",outcome="sent",tenant="acme"} 1.0'
        assert sent in metrics
        assert gw2.http().get("/readyz").json()["checks"]["webhooks"]["ok"] is True
        # one log line per attempt (the killed process may lose its unflushed lines; the survivor made 2 or 3)
        assert 2 <= gw2.proc.logs().count('"webhook_attempt"') <= 3
    finally:
        gw.proc.stop()
        if gw2 is not None:
            gw2.proc.stop()
        receiver.stop()
    assert UPSTREAM_KEY not in gw.proc.logs() + gw2.proc.logs()
    assert SECRET not in gw.proc.logs() + gw2.proc.logs()


def test_callback_url_on_create_remix_and_seed(simulator: Proc, tmp_path: Path) -> None:
    receiver = Receiver().start()
    gw = start_gateway(simulator, tmp_path, store_url("memory", tmp_path), config=CONFIG)
    try:
        http, client = gw.http(), gw.client()
        json_id = http.post(
            "/v1/videos", json={"prompt": "json callback", "seconds": "4", "callback_url": receiver.url + "/json"}
        ).json()["id"]
        sdk = client.videos.create(prompt="multipart callback", extra_body={"callback_url": receiver.url + "/sdk"})
        seed = http.post(
            "/v1/video/generations",
            json={"prompt": "seed callback", "duration_seconds": 4, "callback_url": receiver.url + "/seed"},
        ).json()["id"]
        for path in ("/json", "/sdk", "/seed"):
            wait_for(lambda p=path: len(receiver.acked(p)) == 1, f"the {path} callback", 60)  # type: ignore[misc]
        remix = http.post(
            f"/v1/videos/{sdk.id}/remix", json={"prompt": "remixed", "callback_url": receiver.url + "/remix"}
        ).json()["id"]
        wait_for(lambda: len(receiver.acked("/remix")) == 1, "the remix callback", 60)
        hit = http.post(  # the same create again: a cache hit, completed at once, still announced
            "/v1/videos", json={"prompt": "json callback", "seconds": "4", "callback_url": receiver.url + "/hit"}
        )
        assert hit.headers["x-sora-gateway-cache"] == "hit", hit.headers
        wait_for(lambda: len(receiver.acked("/hit")) == 1, "the cache hit's callback", 60)
        time.sleep(1.0)
        done = (("/json", json_id), ("/sdk", sdk.id), ("/seed", seed), ("/remix", remix), ("/hit", hit.json()["id"]))
        for path, vid in done:
            got = receiver.at(path)
            assert len(got) == 1, (path, got)
            assert got[0].json["type"] == "video.completed" and got[0].json["data"]["id"] == vid
            assert "webhook-signature" not in got[0].headers  # acme has no secret here: unsigned
            assert got[0].headers["webhook-id"].startswith("msg_")
    finally:
        gw.proc.stop()
        receiver.stop()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::1]:9/hook", "loopback"),
        ("ftp://example.com/hook", "http:// or https://"),
        ("http://example.com/" + "a" * 2100, "2048 bytes"),
        ("http://localhost:9/hook", "loopback"),
        ("http://[::127.0.0.1]:9/hook", "carries 127.0.0.1), a loopback"),  # IPv4-compatible
        ("http://[::ffff:0:7f00:1]:9/hook", "carries 127.0.0.1), a loopback"),  # IPv4-translated
        ("http://[64:ff9b::a9fe:a9fe]:9/hook", "carries 169.254.169.254), a cloud metadata"),  # NAT64
        ("http://[2002:a01:203::]:9/hook", "carries 10.1.2.3), a private"),  # 6to4
    ],
)
def test_ssrf_guard_refuses(simulator: Proc, tmp_path_factory: pytest.TempPathFactory, url: str, reason: str) -> None:
    gw = _plain_gateway(simulator, tmp_path_factory)
    for path, body in (
        ("/v1/videos", {"prompt": "guarded", "callback_url": url}),
        ("/v1/video/generations", {"prompt": "guarded", "callback_url": url}),
    ):
        r = gw.http().post(path, json=body)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_callback_url" and err["param"] == "callback_url"
        assert reason in err["message"], err
    assert gw.http().get("/v1/videos").json()["data"] == []  # nothing kept


_GATEWAYS: dict[str, Gateway] = {}


def _plain_gateway(simulator: Proc, factory: pytest.TempPathFactory) -> Gateway:
    """One gateway without callback_allow_nets for the refusal cases (loopback refused too)."""
    if "gw" not in _GATEWAYS or _GATEWAYS["gw"].proc.popen.poll() is not None:  # type: ignore[union-attr]
        _GATEWAYS["gw"] = start_gateway(simulator, factory.mktemp("guard"), "memory://")
    return _GATEWAYS["gw"]


@pytest.fixture(autouse=True, scope="module")
def _stop_plain_gateway() -> object:
    yield
    for gw in _GATEWAYS.values():
        gw.proc.stop()


def test_failed_video_is_announced(tmp_path: Path) -> None:
    sim = start_simulator("--faults", "fail=1")
    receiver = Receiver().start()
    gw = start_gateway(sim, tmp_path, store_url("memory", tmp_path), config=CONFIG + "max_segment_attempts: 1\n")
    try:
        video = (
            gw.http()
            .post("/v1/videos", json={"prompt": "doomed", "seconds": "4", "callback_url": receiver.url + "/failed"})
            .json()
        )
        wait_for(lambda: len(receiver.acked("/failed")) == 1, "the video.failed callback", 60)
        payload = receiver.at("/failed")[0].json
        assert payload["type"] == "video.failed" and payload["data"]["id"] == video["id"]
        assert payload["data"]["status"] == "failed" and payload["data"]["error"]
    finally:
        gw.proc.stop()
        sim.stop()
        receiver.stop()


def test_a_team_secret_without_url_signs_its_callback_url_deliveries(simulator: Proc, tmp_path: Path) -> None:
    """``webhooks: {secret}`` alone loads; the request's callback_url delivery is signed with that secret."""
    receiver = Receiver().start()
    policies = write_policies(tmp_path / "policies", {"acme": f"webhooks:\n  secret: {SECRET}\n"})
    gw = start_gateway(simulator, tmp_path, store_url("sqlite", tmp_path), config=CONFIG, policies=policies)
    try:
        video = gw.client().videos.create(
            prompt="a signed callback", seconds="4", extra_body={"callback_url": receiver.url + "/signed"}
        )
        wait_for(lambda: len(receiver.acked("/signed")) == 1, "the signed callback", 60)
        check_signed(receiver.at("/signed"), video.id)
        time.sleep(1.0)  # a team webhook would be a second delivery: there is none (no url)
        assert {r.path for r in receiver.received} == {"/signed"} and len(receiver.received) == 1
    finally:
        gw.proc.stop()
        receiver.stop()
    assert SECRET not in gw.proc.logs()


def test_dns_rebinding_cannot_move_a_delivery_to_another_address(simulator: Proc, tmp_path: Path) -> None:
    """The guard allows 127.0.0.2 only; ``rebind.test`` answers 127.0.0.2 and 127.0.0.1 in turn (TTL 0). The
    delivery goes to the address the guard vetted, never to a second answer; an AAAA that carries a loopback
    IPv4 (NAT64 ``64:ff9b::7f00:1``) is refused at the create."""
    allowed = Receiver(host="127.0.0.2").start()  # the address the guard allows
    port = allowed.server.server_address[1]  # type: ignore[union-attr]
    target = Receiver(host="127.0.0.1", port=port).start()  # the same port where the second answer points
    dns = DnsServer(
        {
            "rebind.test": {"A": [["127.0.0.2"], ["127.0.0.1"]]},
            "nat64.test": {"AAAA": [["64:ff9b::7f00:1"]]},
        },
        cycle=True,
    ).start()
    hook = f"webhooks:\n  url: http://rebind.test:{port}/team\n  secret: {SECRET}\n"
    policies = write_policies(tmp_path / "policies", {"acme": hook})
    config = CONFIG.replace("callback_allow_nets: 127.0.0.0/8", "callback_allow_nets: 127.0.0.2/32")
    gw = start_gateway(
        simulator, tmp_path, "memory://", config=config, policies=policies, wrap=resolving_with(dns, tmp_path)
    )
    try:
        http = gw.http()
        refused = http.post("/v1/videos", json={"prompt": "nat64", "callback_url": f"http://nat64.test:{port}/x"})
        err = refused.json()["error"]
        assert refused.status_code == 400 and err["code"] == "invalid_callback_url", refused.text
        assert "64:ff9b::7f00:1 (which carries 127.0.0.1), a loopback address" in err["message"], err
        video = http.post("/v1/videos", json={"prompt": "a rebinding lighthouse", "seconds": "4"}).json()
        wait_for(lambda: bool(allowed.acked("/team") or target.received), "a delivery", 60)
        time.sleep(1.0)  # a delivery to the second answer would come within a retry period
        assert target.received == [], "a delivery reached the address the guard never vetted"
        assert len(allowed.acked("/team")) == 1
        check_signed(allowed.at("/team"), video["id"])
        assert dns.asked("rebind.test") >= 1  # the gateway did ask our DNS
    finally:
        gw.proc.stop()
        dns.stop()
        allowed.stop()
        target.stop()
