"""Identical-prompt cache and in-flight coalescing, counted at the upstream (the simulator's ``/_sim/stats``).

Real processes, the official SDK, real MP4s. One gateway on SQLite for most tests; two replicas
on Redis for coalescing across replicas; a 2026 upstream for extensions of a cached video.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from gateway.core.models import Job, Reference, VideoRequest
from gateway.core.plan import plan_request
from gateway.media.probe import probe_duration
from gateway.pipeline.auth import hash_key
from gateway.pipeline.cache import cache_key, wants_bypass
from gateway.pipeline.stages import Admission
from gateway.policies.model import Tenant
from gateway.providers import PROFILES
from tests.conftest import FAST_CONFIG, KEYS, UPSTREAM_KEY, Gateway, calls, sim_stats, start_gateway, write_policies
from tests.procs import REDIS_URL, Proc, require_redis, start_simulator

EXTRA_TENANTS = {  # name -> (key, cache scope)
    "initech": ("sk-initech-test-key-0003", "shared"),
    "umbrella": ("sk-umbrella-test-key-0004", "shared"),
    "hooli": ("sk-hooli-test-key-0005", "off"),
}
CONFIG = FAST_CONFIG + "max_segment_attempts: 1\n"
LEADER_HOLD_S = 5  # the simulator holds a leader's create answer this long (real seconds)


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def policies_with_scopes(root: Path) -> Path:
    write_policies(root)
    for name, (key, scope) in EXTRA_TENANTS.items():
        body = f'tenant: {name}\napi_keys: ["{hash_key(key)}"]\ncache: {{scope: {scope}}}\n'
        (root / "tenants" / f"{name}.yaml").write_text(body)
    return root


def client_for(gw: Gateway, tenant: str) -> openai.OpenAI:
    key = KEYS.get(tenant) or EXTRA_TENANTS[tenant][0]
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


def generations(sim: Proc) -> int:
    return int(sim_stats(sim)["generations"])  # type: ignore[arg-type]


def metric(gw: Gateway, name: str, **labels: str) -> float:
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_done(gw: Gateway, tenant: str, ids: list[str], deadline_s: float = 60) -> dict[str, dict[str, object]]:
    done: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + deadline_s
    with gw.http(tenant) as http:
        while len(done) < len(ids) and time.monotonic() < deadline:
            for video_id in ids:
                if video_id not in done:
                    body = http.get(f"/v1/videos/{video_id}").json()
                    if body["status"] in ("completed", "failed"):
                        done[video_id] = body
            time.sleep(0.05)
    assert len(done) == len(ids), f"{len(ids) - len(done)} jobs did not finish"
    return done


def concurrent_creates(urls: list[str], n: int, body: dict[str, object]) -> list[httpx.Response]:
    def post(i: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {KEYS['acme']}"}
        return httpx.post(urls[i % len(urls)] + "/v1/videos", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(post, range(n)))


@pytest.fixture(scope="module")
def gw(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("cache")
    gateway = start_gateway(
        simulator,
        tmp,
        f"sqlite:///{tmp / 'gw.db'}",
        config=CONFIG,
        policies=policies_with_scopes(tmp / "policies"),
    )
    yield gateway
    gateway.proc.stop()
    assert UPSTREAM_KEY not in gateway.proc.logs()


# -- the key -------------------------------------------------------------------
def admission(prompt: str, tenant: str = "acme", scope: str = "tenant", **fields: object) -> Admission:
    caps = PROFILES["openai-2025-10"]
    req = VideoRequest(prompt=prompt, **fields)  # type: ignore[arg-type]
    plan = plan_request(req, caps)
    job = Job(id="video_x", tenant=tenant, model=plan.model, prompt=prompt, size=plan.size, seconds=str(plan.seconds))
    return Admission(Tenant(tenant, cache_scope=scope), req, plan, job, caps)


def test_cache_key_normalises_prompt_and_separates_what_matters() -> None:
    base = cache_key(admission("A cat  on a\tMat"))
    assert cache_key(admission("  a CAT on a mat ")) == base
    assert cache_key(admission("a cat on a mat", seconds="8")) != base
    assert cache_key(admission("a cat on a mat", negative_prompt="dogs")) != base
    assert cache_key(admission("a cat on a mat", style_preset="anime")) != base
    assert cache_key(admission("a cat on a mat", input_reference=Reference(sha256="ab" * 32))) != base
    assert cache_key(admission("a cat on a mat", tenant="globex")) != base
    shared = cache_key(admission("a cat on a mat", scope="shared"))
    assert shared != base and shared == cache_key(admission("a cat on a mat", tenant="globex", scope="shared"))
    assert wants_bypass("no-cache") and wants_bypass("max-age=0, no-store") and not wants_bypass("max-age=60")


# -- hits ----------------------------------------------------------------------
def test_identical_create_after_completion_costs_no_upstream_create(
    gw: Gateway, simulator: Proc, tmp_path: Path
) -> None:
    client = gw.client()
    prompt = unique("A lighthouse at dawn")
    first = client.videos.create_and_poll(prompt=prompt, seconds="4", poll_interval_ms=50)
    assert first.status == "completed"
    original = client.videos.download_content(first.id).content
    creates, saved = calls(simulator, "create"), metric(gw, "sora_gateway_saved_usd_total", tenant="acme")

    raw = client.videos.with_raw_response.create(prompt=f"  {prompt.upper()}\n", seconds="4")
    hit = raw.parse()
    assert raw.headers["x-sora-gateway-cache"] == "hit"
    assert hit.status == "completed" and hit.id != first.id and hit.seconds == "4" and hit.progress == 100
    assert calls(simulator, "create") == creates, "a cache hit reached the upstream"
    body = client.videos.download_content(hit.id).content
    assert body == original
    path = tmp_path / "hit.mp4"
    path.write_bytes(body)
    assert abs(probe_duration(path) - 4) < 0.2
    assert metric(gw, "sora_gateway_cache_events_total", tenant="acme", outcome="hit") >= 1
    assert metric(gw, "sora_gateway_saved_usd_total", tenant="acme", reason="cache_hit") - saved >= 0.4 - 1e-9

    other = client.videos.with_raw_response.create(prompt=prompt, seconds="8")
    assert other.headers["x-sora-gateway-cache"] == "miss" and calls(simulator, "create") == creates + 1


def test_no_cache_header_bypasses_the_cache(gw: Gateway, simulator: Proc) -> None:
    client = gw.client()
    prompt = unique("bypass me")
    client.videos.create_and_poll(prompt=prompt, poll_interval_ms=50)
    creates = calls(simulator, "create")
    raw = client.videos.with_raw_response.create(prompt=prompt, extra_headers={"Cache-Control": "no-cache"})
    assert raw.headers["x-sora-gateway-cache"] == "bypass" and raw.parse().status in ("queued", "in_progress")
    assert calls(simulator, "create") == creates + 1


def test_cache_scopes_tenant_shared_and_off(gw: Gateway, simulator: Proc) -> None:
    prompt = unique("a red balloon")
    gw.client("acme").videos.create_and_poll(prompt=prompt, poll_interval_ms=50)
    globex = gw.client("globex").videos.with_raw_response.create(prompt=prompt)
    assert globex.headers["x-sora-gateway-cache"] == "miss", "tenant scope leaked across tenants"

    shared = unique("a shared sunset")
    client_for(gw, "initech").videos.create_and_poll(prompt=shared, poll_interval_ms=50)
    creates = calls(simulator, "create")
    raw = client_for(gw, "umbrella").videos.with_raw_response.create(prompt=shared)
    assert raw.headers["x-sora-gateway-cache"] == "hit" and calls(simulator, "create") == creates
    with pytest.raises(openai.NotFoundError):  # a hit is the caller's own video; the original stays private
        client_for(gw, "umbrella").videos.retrieve(client_for(gw, "initech").videos.list(limit=1).data[0].id)

    off = client_for(gw, "hooli")
    plain = unique("never cached")
    off.videos.create_and_poll(prompt=plain, poll_interval_ms=50)
    creates = calls(simulator, "create")
    again = off.videos.with_raw_response.create(prompt=plain)
    assert "x-sora-gateway-cache" not in again.headers and calls(simulator, "create") == creates + 1


def test_remix_of_a_hit_works_after_the_original_is_deleted(gw: Gateway, simulator: Proc) -> None:
    client = gw.client()
    prompt = unique("a paper crane")
    first = client.videos.create_and_poll(prompt=prompt, seconds="4", poll_interval_ms=50)
    hit = client.videos.create(prompt=prompt, seconds="4")
    assert hit.status == "completed"
    deletes = calls(simulator, "delete")
    client.videos.delete(first.id)
    assert calls(simulator, "delete") == deletes, "the shared upstream video was deleted"
    assert len(client.videos.download_content(hit.id).content) > 1000  # its files outlive the original's
    remix = client.videos.remix(hit.id, prompt="the crane takes off")
    done = client.videos.poll(remix.id, poll_interval_ms=50)
    assert done.status == "completed" and done.remixed_from_video_id == hit.id
    client.videos.delete(hit.id)
    assert calls(simulator, "delete") == deletes


# -- coalescing ------------------------------------------------------------------
def test_40_concurrent_identical_creates_cost_one_generation(gw: Gateway, simulator: Proc) -> None:
    body = {"prompt": unique("forty identical foxes"), "seconds": "4"}
    before = sim_stats(simulator)
    responses = concurrent_creates([gw.url], 40, body)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200][:2]
    outcomes = [r.headers["x-sora-gateway-cache"] for r in responses]
    assert outcomes.count("miss") == 1 and set(outcomes) <= {"miss", "coalesced", "hit"}, outcomes
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 40
    done = wait_done(gw, "acme", ids)
    assert all(v["status"] == "completed" and v["seconds"] == "4" for v in done.values())
    after = sim_stats(simulator)
    assert calls(simulator, "create") - dict(before["calls"]).get("create", 0) == 1  # type: ignore[arg-type]
    assert int(after["generations"]) - int(before["generations"]) == 1  # type: ignore[arg-type]
    retrieves = dict(after["calls"]).get("retrieve", 0) - dict(before["calls"]).get("retrieve", 0)  # type: ignore[arg-type]
    assert retrieves < 40, f"followers polled the upstream ({retrieves} retrieves)"
    contents = {gw.client().videos.download_content(i).content for i in ids}
    assert len(contents) == 1
    assert metric(gw, "sora_gateway_cache_events_total", tenant="acme", outcome="coalesced") >= 39 - outcomes.count(
        "hit"
    )


def test_followers_of_a_refused_leader_get_the_refusal(gw: Gateway) -> None:
    body = {"prompt": unique("something forbidden"), "seconds": "4"}
    responses = concurrent_creates([gw.url], 8, body)
    for response in responses:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "moderation_blocked"


def test_followers_fail_when_their_leader_fails(gw: Gateway, simulator: Proc) -> None:
    # The upstream job fails ~0.15 s after it is made, but the leader's create answer is held for LEADER_HOLD_S
    # (``late``): until then the leader is undecided and every identical create joins it. Without the hold a
    # create that a loaded machine let in after the leader had failed became a new leader (a second, legitimate
    # upstream create: the first one was over), and this test saw 2 creates.
    faults = f"fail=1,late=1,slow_s={LEADER_HOLD_S}"
    httpx.post(simulator.url + "/_sim/faults", json={"faults": faults}, timeout=10).raise_for_status()
    try:
        creates = calls(simulator, "create")
        responses = concurrent_creates([gw.url], 6, {"prompt": unique("doomed"), "seconds": "4"})
        ids = [r.json()["id"] for r in responses]
        done = wait_done(gw, "acme", ids)
    finally:
        httpx.post(simulator.url + "/_sim/faults", json={"faults": ""}, timeout=10).raise_for_status()
    outcomes = [r.headers["x-sora-gateway-cache"] for r in responses]
    assert sorted(outcomes) == ["coalesced"] * 5 + ["miss"], outcomes
    assert calls(simulator, "create") == creates + 1
    assert all(v["status"] == "failed" and v["error"] for v in done.values()), done
    assert len({v["error"]["code"] for v in done.values()}) == 1  # type: ignore[index]


def test_coalescing_across_two_replicas_on_redis(simulator: Proc, tmp_path: Path) -> None:
    require_redis()
    store = f"{REDIS_URL}?prefix=sgcache-{uuid.uuid4().hex[:8]}"
    policies = write_policies(tmp_path / "policies")
    one = start_gateway(simulator, tmp_path, store, config=CONFIG, policies=policies)
    two = start_gateway(simulator, tmp_path, store, config=CONFIG, policies=policies)  # same data dir: one volume
    try:
        before = sim_stats(simulator)
        body = {"prompt": unique("two replicas, one fox"), "seconds": "4"}
        responses = concurrent_creates([one.url, two.url], 40, body)
        assert all(r.status_code == 200 for r in responses)
        outcomes = [r.headers["x-sora-gateway-cache"] for r in responses]
        assert outcomes.count("miss") == 1, outcomes
        ids = [r.json()["id"] for r in responses]
        done = wait_done(two, "acme", ids)
        assert all(v["status"] == "completed" for v in done.values())
        after = sim_stats(simulator)
        assert int(after["generations"]) - int(before["generations"]) == 1  # type: ignore[arg-type]
        assert dict(after["calls"]).get("create", 0) - dict(before["calls"]).get("create", 0) == 1  # type: ignore[arg-type]
        last, first = ids[-1], ids[0]
        assert one.client().videos.download_content(last).content == two.client().videos.download_content(first).content
        hit = two.http().post("/v1/videos", json=body)
        assert hit.headers["x-sora-gateway-cache"] == "hit"
    finally:
        one.proc.stop()
        two.proc.stop()


# -- extensions of a cached video (2026 upstream) --------------------------------
def test_extension_of_a_cached_video(simulator_2026: Proc, tmp_path: Path) -> None:
    gw26 = start_gateway(simulator_2026, tmp_path, "memory://", config=CONFIG)
    try:
        client = gw26.client()
        prompt = unique("a kite over dunes")
        client.videos.create_and_poll(prompt=prompt, seconds="4", poll_interval_ms=50)
        creates = calls(simulator_2026, "create")
        hit = client.videos.with_raw_response.create(prompt=prompt, seconds="4")
        assert hit.headers["x-sora-gateway-cache"] == "hit" and calls(simulator_2026, "create") == creates
        with gw26.http() as http:  # the SDK's extend() sends ``video`` as a file; the spec also takes {"id"}
            body = {"video": {"id": hit.parse().id}, "prompt": "the kite climbs", "seconds": "4"}
            extended = http.post("/v1/videos/extensions", json=body)
        assert extended.status_code == 200, extended.text
        done = client.videos.poll(extended.json()["id"], poll_interval_ms=50)
        assert done.status == "completed" and done.seconds == "8"
        path = tmp_path / "ext.mp4"
        path.write_bytes(client.videos.download_content(done.id).content)
        assert abs(probe_duration(path) - 8) < 0.2
    finally:
        gw26.proc.stop()


def test_followers_carry_on_when_their_leader_is_deleted(tmp_path: Path) -> None:
    sim = start_simulator(time_scale=0.05)  # a 4 s video takes about 3 s: time to delete its leader
    gw = start_gateway(sim, tmp_path, "memory://", config=CONFIG)
    try:
        responses = concurrent_creates([gw.url], 4, {"prompt": unique("orphaned followers"), "seconds": "4"})
        by_outcome = {r.headers["x-sora-gateway-cache"]: r.json()["id"] for r in responses}
        followers = [r.json()["id"] for r in responses if r.headers["x-sora-gateway-cache"] == "coalesced"]
        assert len(followers) == 3, by_outcome
        with gw.http() as http:
            assert http.delete(f"/v1/videos/{by_outcome['miss']}").status_code == 200
        done = wait_done(gw, "acme", followers)
        assert all(v["status"] == "completed" for v in done.values()), done
        assert calls(sim, "create") == 1 and generations(sim) == 1
        assert calls(sim, "delete") == 0, "the leader's delete removed the upstream video its followers use"
        assert len({gw.client().videos.download_content(i).content for i in followers}) == 1
    finally:
        gw.proc.stop()
        sim.stop()
