"""Metrics end to end: traffic of every kind through a real gateway moves exactly the right series.

Counters are compared before/after (deltas), upstream counters against the simulator's own call
counts; the Grafana dashboard and the alert rules may only use metrics the running gateway
exports; ``--workers 2`` merges every worker's metrics; a dead Redis shows in the store metrics.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from gateway import __version__
from tests.conftest import FAST_CONFIG, KEYS, UPSTREAM_KEY, Gateway, sim_stats, start_gateway, store_url, write_policies
from tests.procs import Proc, free_port, start_simulator

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
Snapshot = dict[tuple[str, frozenset[tuple[str, str]]], float]
PROMPTS = ["an orange kite over dunes", "a tram in the fog at night", "storm clouds over wheat"]
POLICIES = {
    "acme": 'content: {blocked_terms: ["dragonfruit"]}\nquotas: {requests_per_minute: 600, concurrent_jobs: 40}\n',
    "globex": "quotas: {budget_usd_per_month: 0.5}\n",
}
UPSTREAM_OPS = ("create", "remix", "retrieve", "content", "delete")


def scrape(gw: Gateway) -> Snapshot:
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    snap: Snapshot = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            snap[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return snap


def value(snap: Snapshot, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in snap.items() if n == name and want <= ls)


def label_values(snap: Snapshot, name: str, label: str) -> set[str]:
    return {dict(ls)[label] for (n, ls) in snap if n == name and label in dict(ls)}


def wait(http: httpx.Client, video_id: str) -> tuple[dict[str, object], int]:
    """Poll until terminal; the job and how many retrieves it took."""
    polls = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        polls += 1
        body = http.get(f"/v1/videos/{video_id}").json()
        if body["status"] in ("completed", "failed"):
            return body, polls
        time.sleep(0.05)
    raise AssertionError(f"{video_id} did not finish")


def eventually(check: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(what)


@pytest.fixture(scope="module")
def gw(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("metrics")
    policies = write_policies(tmp / "policies", extra=POLICIES)
    config = FAST_CONFIG + "max_body_bytes: 200000\n"
    gateway = start_gateway(simulator, tmp, store_url("redis", tmp), config=config, policies=policies)
    yield gateway
    gateway.proc.stop()
    assert UPSTREAM_KEY not in gateway.proc.logs()


def test_traffic_of_every_kind_moves_the_right_series(gw: Gateway, simulator: Proc) -> None:
    before, sim_before = scrape(gw), sim_stats(simulator)["calls"]
    client = gw.client("acme")
    http = gw.http("acme")
    retrieves = 0
    # plain create (the SDK sends multipart), polled, downloaded, listed
    first = client.videos.create(prompt=PROMPTS[0], seconds="4", size="720x1280")
    done, polls = wait(http, first.id)
    retrieves += polls
    assert done["status"] == "completed"
    assert len(client.videos.download_content(first.id).content) > 1000
    client.videos.list(limit=5)
    # remix; a long video (segmented + stitched); an odd size (adapted)
    remix = client.videos.remix(first.id, prompt=PROMPTS[1])
    long = http.post("/v1/videos", json={"prompt": PROMPTS[2], "seconds": "20", "size": "1280x720"}).json()
    odd = http.post("/v1/videos", json={"prompt": PROMPTS[2] + " wide", "seconds": "4", "size": "1920x1080"}).json()
    for video_id in (remix.id, long["id"], odd["id"]):
        done, polls = wait(http, video_id)
        retrieves += polls
        assert done["status"] == "completed", done
    # the same create again is a cache hit; refusals of every kind
    hit = http.post("/v1/videos", json={"prompt": PROMPTS[0], "seconds": "4", "size": "720x1280"})
    assert hit.headers.get("x-sora-gateway-cache") == "hit", hit.headers
    blocked = http.post("/v1/videos", json={"prompt": "a dragonfruit smoothie"})
    moderated = http.post("/v1/videos", json={"prompt": "something forbidden"})
    over_budget = gw.http("globex").post("/v1/videos", json={"prompt": "a costly one", "seconds": "8"})
    bad_key = httpx.get(gw.url + "/v1/videos", headers={"Authorization": "Bearer sk-not-a-key-000000"})
    unknown = http.get("/v1/nothing-here")
    too_big = http.post("/v1/videos", content=b"x" * 300_000, headers={"content-type": "application/json"})
    missing = http.get("/v1/videos/video_" + "0" * 48)
    assert [r.status_code for r in (blocked, moderated, over_budget, bad_key, unknown, too_big, missing)] == [
        400, 400, 429, 401, 404, 413, 404,
    ]  # fmt: skip
    for refusal in (blocked, moderated, over_budget, bad_key, unknown, too_big, missing):
        assert set(refusal.json()["error"]) == {"message", "type", "param", "code"}
    assert http.delete(f"/v1/videos/{remix.id}").status_code == 200
    http.close()
    eventually(lambda: value(scrape(gw), "sora_gateway_jobs") == 0, "the jobs gauge did not return to 0")
    after, sim_after = scrape(gw), sim_stats(simulator)["calls"]

    def delta(name: str, **labels: str) -> float:
        return round(value(after, name, **labels) - value(before, name, **labels), 6)

    # client requests: route, method, status, tenant
    requests = "sora_gateway_requests_total"
    assert delta(requests, route="create_video", method="POST", status="200", tenant="acme") == 4
    assert delta(requests, route="remix_video", method="POST", status="200", tenant="acme") == 1
    assert delta(requests, route="retrieve_video", method="GET", status="200", tenant="acme") == retrieves
    assert delta(requests, route="retrieve_video", method="GET", status="404", tenant="acme") == 1
    assert delta(requests, route="video_content", method="GET", status="200", tenant="acme") == 1
    assert delta(requests, route="list_videos", method="GET", status="200", tenant="acme") == 1
    assert delta(requests, route="delete_video", method="DELETE", status="200", tenant="acme") == 1
    assert delta(requests, route="create_video", status="400", tenant="acme") == 2
    assert delta(requests, route="create_video", status="429", tenant="globex") == 1
    assert delta(requests, route="list_videos", status="401", tenant="-") == 1
    assert delta(requests, route="unmatched", status="404") == 1
    assert delta(requests, status="413") == 1
    for route in ("create_video", "retrieve_video", "video_content"):
        assert delta("sora_gateway_request_duration_seconds_count", route=route) == delta(requests, route=route)
    assert delta("sora_gateway_polls_absorbed_total", tenant="acme") == retrieves
    # upstream calls: exactly what the simulator saw, by operation; latency observed for each
    upstream = "sora_gateway_upstream_requests_total"
    for op in UPSTREAM_OPS:
        seen = sim_after[op] - sim_before[op]
        assert delta(upstream, upstream="openai", operation=op) == seen, op
        assert delta("sora_gateway_upstream_request_duration_seconds_count", operation=op) == seen, op
    assert delta(upstream, operation="create", status="400") == 1  # the moderated prompt
    assert delta(upstream, operation="create", status="200") >= 4  # first, odd, long (two segments)
    # jobs: transitions, delivered seconds and estimated spend by tenant and model
    assert delta("sora_gateway_job_transitions_total", state="completed", tenant="acme") == 4
    assert delta("sora_gateway_video_seconds_total", tenant="acme") == 4 + 4 + 20 + 4  # generated (as usage)
    assert delta("sora_gateway_delivered_seconds_total", tenant="acme") == 4 + 4 + 20 + 4 + 4  # and the hit
    spend = {m: delta("sora_gateway_cost_usd_total", tenant="acme", model=m) for m in ("sora-2", "sora-2-pro")}
    seconds = {m: delta("sora_gateway_video_seconds_total", tenant="acme", model=m) for m in spend}
    assert spend["sora-2"] == pytest.approx(0.10 * seconds["sora-2"]) and seconds["sora-2"] >= 28
    assert spend["sora-2-pro"] in (
        pytest.approx(0.3 * seconds["sora-2-pro"]),
        pytest.approx(0.5 * seconds["sora-2-pro"]),
    )
    assert delta("sora_gateway_video_seconds_total", tenant="globex") == 0
    # adaptivity, cache savings, quota and content-policy refusals
    assert delta("sora_gateway_segment_plans_total", strategy="chain") == 1
    assert delta("sora_gateway_adaptations_total") >= 2  # seconds=20 -> 12+8, size=1920x1080 -> supported
    assert delta("sora_gateway_stitch_duration_seconds_count") == 1
    assert delta("sora_gateway_cache_events_total", tenant="acme", outcome="hit") == 1
    assert delta("sora_gateway_saved_usd_total", tenant="acme", reason="cache_hit") == pytest.approx(0.4)
    assert delta("sora_gateway_quota_refusals_total", tenant="globex", limit="budget_usd_per_month") == 1
    assert delta("sora_gateway_policy_refusals_total", tenant="acme") == 1
    # state: store healthy, nothing active, the detected upstream, the limits from the policy files
    assert value(after, "sora_gateway_store_up", store="redis") == 1
    assert delta("sora_gateway_store_errors_total") == 0
    assert value(after, "sora_gateway_jobs_oldest_active_seconds") == 0
    profile = {"profile": "openai-2025-10", "dialect": "openai", "source": "detected"}
    assert value(after, "sora_gateway_upstream_profile_info", **profile) == 1
    assert value(after, "sora_gateway_build_info", version=__version__) == 1
    limit = value(after, "sora_gateway_tenant_quota_limit", tenant="globex", limit="budget_usd_per_month")
    assert limit == 0.5
    # bounded labels: no video ids, no prompts, tenants only from the policy files
    for (_, labels), _v in after.items():
        for label, text in labels:
            assert not re.search(r"video_[0-9a-f]{16}", text) and not any(p in text for p in PROMPTS), (label, text)
    assert label_values(after, requests, "tenant") <= {*KEYS, "-"}
    assert label_values(after, requests, "method") <= {"GET", "POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS"}


def used_metrics() -> dict[str, list[str]]:
    """Every PromQL expression of the dashboard and the alert rules, with where it comes from."""
    exprs: dict[str, list[str]] = {}
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "sora-gateway.json").read_text())
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            exprs.setdefault(f"dashboard panel {panel['title']!r}", []).append(target["expr"])
    exprs["dashboard variables"] = [v["definition"] for v in board["templating"]["list"] if v.get("definition")]
    import yaml

    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            exprs[f"alert {rule['alert']}"] = [rule["expr"]]
    return exprs


def test_dashboard_and_alerts_use_only_exported_metrics_and_labels(gw: Gateway) -> None:
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    exported: set[str] = set()
    labels_of: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            suffixes = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("", "_total")}.get(kind, ("",))
            exported |= {name + s for s in suffixes}
    for family in families.values():
        for sample in family.samples:
            exported.add(sample.name)
            labels_of.setdefault(sample.name, set()).update(sample.labels)
    used = 0
    for where, exprs in used_metrics().items():
        for expr in exprs:
            for name in re.findall(r"\bsora_gateway_\w+", expr):
                used += 1
                assert name in exported, f"{where} uses {name}, which the gateway does not export"
            for name, selector in re.findall(r"\b(sora_gateway_\w+)\{([^}]*)\}", expr):
                if name in labels_of:
                    for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector):
                        assert label in labels_of[name] | {"le"}, f"{where}: {name} has no label {label!r}"
    assert used >= 40, "the dashboard and alerts should be built on the gateway's metrics"


def metrics_dir(gw: Gateway) -> str:
    events = [json.loads(line) for line in gw.proc.logs().splitlines() if line.startswith("{")]
    return str(next(e["directory"] for e in events if e["event"] == "multiprocess_metrics"))


def test_workers_share_one_metrics_view(tmp_path: Path) -> None:
    """``--workers 2``: two replicas in one container, /metrics on either reports the sum of both."""
    slow = start_simulator(time_scale=1.0)  # jobs stay active long enough to be seen in the gauge
    # several workers need the Redis quota backend (in-process counters would overwrite each other)
    gw = start_gateway(slow, tmp_path, store_url("redis", tmp_path), "--workers", "2")
    try:
        with gw.http("acme") as http:
            video = http.post("/v1/videos", json={"prompt": "a slow one", "seconds": "4"}).json()
            for _ in range(10):
                assert http.get("/v1/videos", params={"limit": 1}).status_code == 200
            eventually(
                lambda: value(scrape(gw), "sora_gateway_jobs", tenant="acme") == 1,
                "the active job is not counted once across the workers",
            )
            pids = {p.stem.rsplit("_", 1)[-1] for p in Path(metrics_dir(gw)).glob("*.db")}
            assert len(pids) >= 2, "both workers must write their metrics to the shared directory"
            for _ in range(8):  # fresh connections: whichever worker answers reports every worker's counts
                snap = scrape(gw)
                assert value(snap, "sora_gateway_requests_total", route="list_videos", status="200") == 10
                assert value(snap, "sora_gateway_requests_total", route="create_video", status="200") == 1
                assert value(snap, "sora_gateway_jobs", tenant="acme") == 1
            assert value(snap, "sora_gateway_jobs_oldest_active_seconds") > 0
            info = [k for k in snap if k[0] == "sora_gateway_upstream_profile_info" and value(snap, k[0], **dict(k[1]))]
            assert len(info) == 1 and ("profile", "openai-2025-10") in info[0][1]
            assert not any("pid" in dict(labels) for (name, labels) in snap if name.endswith("_total"))
            assert http.delete(f"/v1/videos/{video['id']}").status_code == 200
            eventually(lambda: value(scrape(gw), "sora_gateway_jobs") == 0, "a deleted job is still counted")
        events = [json.loads(line) for line in gw.proc.logs().splitlines() if line.startswith("{")]
        replicas = {e["replica"] for e in events if e["event"] == "gateway_started"}
        assert len(replicas) == 2, "two workers, two replicas"
        directory = metrics_dir(gw)
    finally:
        gw.proc.stop()
        slow.stop()
    assert not Path(directory).exists(), "the metrics directory must be removed on exit"


def test_a_dead_redis_shows_in_the_store_metrics(simulator: Proc, tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    gw = start_gateway(simulator, tmp_path, dead)
    try:
        eventually(
            lambda: value(scrape(gw), "sora_gateway_store_errors_total", store="redis", operation="active_ids") > 0,
            "the driver's failing store calls are not counted",
        )
        snap = scrape(gw)
        assert value(snap, "sora_gateway_store_up", store="redis") == 0
        assert httpx.get(gw.url + "/readyz").status_code == 503
        client = OpenAI(base_url=gw.url + "/v1", api_key=KEYS["acme"], max_retries=0)
        with pytest.raises(openai.APIStatusError) as refused:
            client.videos.create(prompt="no store, no job")
        assert refused.value.status_code == 503, refused.value
        assert set(refused.value.response.json()["error"]) == {"message", "type", "param", "code"}
    finally:
        gw.proc.stop()
