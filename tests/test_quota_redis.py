"""Quotas on Redis: exact across replicas, and Redis going away (fail closed / fail open, then recovery).

The exactness tests run two gateway replicas on the shared Redis and fire concurrent bursts at
both. The outage tests start their own ``redis-server`` on a free port, so they can stop and
restart it without disturbing the shared one.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import FAST_CONFIG, Gateway, start_gateway, store_url, write_tenants
from tests.procs import REDIS_URL, Proc, free_port, require_redis, start_simulator, wait_for

BURST_TENANTS = {
    "burst": "quotas: {requests_per_minute: 40}\n",
    "slots": "quotas: {concurrent_jobs: 3}\ncache: {scope: off}\n",
    "wallet": "quotas: {budget_usd_per_month: 2.0}\ncache: {scope: off}\n",
    "tags": "quotas: {requests_per_minute: 1000, concurrent_jobs: 100}\n",
}


def key_of(tenant: str) -> str:
    return f"sk-redisquota-{tenant}-0123456789"


# A loaded 2-core machine answers a burst of 80 creates per replica slowly: the client waits (a read
# timeout is a test failure, not a refusal). Only the quota checks, not the answers, must fall in one minute.
CLIENT_TIMEOUT_S = 300


async def _create(client: openai.AsyncOpenAI, prompt: str, seconds: str) -> tuple[int, dict[str, str]]:
    try:
        raw = await client.videos.with_raw_response.create(prompt=prompt, seconds=seconds)  # type: ignore[arg-type]
        return raw.http_response.status_code, dict(raw.headers)
    except openai.APIStatusError as exc:
        return exc.status_code, {**exc.response.headers, "code": str((exc.body or {}).get("code"))}  # type: ignore[union-attr]


def burst(replicas: list[Gateway], tenant: str, n: int, seconds: str = "4") -> list[tuple[int, dict[str, str]]]:
    """``n`` concurrent creates with distinct prompts, spread evenly over the replicas (one SDK client each)."""

    async def fire() -> list[tuple[int, dict[str, str]]]:
        clients = [
            openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=key_of(tenant), max_retries=0, timeout=CLIENT_TIMEOUT_S)
            for gw in replicas
        ]
        try:
            tasks = [_create(clients[i % len(clients)], f"{tenant} burst {i}", seconds) for i in range(n)]
            return list(await asyncio.gather(*tasks))
        finally:
            for client in clients:
                await client.close()

    return asyncio.run(fire())


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[Proc]:
    sim = start_simulator(time_scale=1.0)  # generations take real minutes: admitted jobs stay in progress
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def replicas(slow_simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Gateway]]:
    tmp = tmp_path_factory.mktemp("replicas")
    store = store_url("redis", tmp)  # the quota counters live in the same Redis, same prefix
    policies = write_tenants(tmp / "policies", BURST_TENANTS, key_of)
    gateways = [start_gateway(slow_simulator, tmp / f"r{i}", store, policies=policies) for i in range(2)]
    yield gateways
    for gw in gateways:
        gw.proc.stop()


def test_requests_per_minute_is_exact_across_two_replicas(replicas: list[Gateway]) -> None:
    results = burst(replicas, "burst", 160)
    admitted = [h for status, h in results if status == 200]
    refused = [h for status, h in results if status == 429]
    assert len(admitted) == 40, sorted({s for s, _ in results})
    assert len(refused) == 120
    assert all(int(h["retry-after"]) >= 1 and h["code"] == "rate_limit_exceeded" for h in refused)
    assert all(h["x-ratelimit-limit-requests"] == "40" for h in admitted + refused)
    assert sorted(int(h["x-ratelimit-remaining-requests"]) for h in admitted) == list(range(40))
    for gw in replicas:  # both replicas agree on the count
        with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key_of('burst')}"}) as c:
            assert c.get("/v1/gateway/usage").json()["usage"]["requests_last_minute"] == 40


def test_concurrent_jobs_and_budget_are_exact_across_two_replicas(replicas: list[Gateway]) -> None:
    slots = burst(replicas, "slots", 24)
    assert [s for s, _ in slots].count(200) == 3
    assert {h["code"] for s, h in slots if s == 429} == {"concurrent_jobs_exceeded"}
    wallet = burst(replicas, "wallet", 24, seconds="8")  # $0.80 each on a $2.00 budget
    assert [s for s, _ in wallet].count(200) == 2
    assert {h["code"] for s, h in wallet if s == 429} == {"budget_usd_per_month_exceeded"}
    with httpx.Client(base_url=replicas[1].url, headers={"Authorization": f"Bearer {key_of('wallet')}"}) as c:
        assert c.get("/v1/gateway/usage").json()["usage"]["spend_usd_this_month"] == pytest.approx(1.6)


def test_quota_keys_share_one_hash_tag_per_tenant(replicas: list[Gateway]) -> None:
    import redis

    assert {s for s, _ in burst(replicas, "tags", 4)} == {200}  # this test's own keys (it may run alone)
    prefix = replicas[0].store.split("prefix=")[1]
    client = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in client.scan_iter(match=f"{{{prefix}:quota:*", count=1000)]
    client.close()
    assert keys, "no quota keys in Redis"
    for key in keys:  # {prefix:quota:<tenant>}:...: every key of a tenant hashes to one Redis Cluster slot
        tag = key[1 : key.index("}")]
        assert tag.startswith(f"{prefix}:quota:") and tag.split(":quota:")[1] in BURST_TENANTS


# -- Redis going away ------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server we may stop and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            require_redis()  # skips locally, fails in CI
            pytest.fail("redis-server is not installed")
        self.popen = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
            except redis.RedisError:
                return False

        wait_for(up, "redis-server to answer", timeout=10)
        return self

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port()).start()
    yield server
    server.stop()


def outage_gateway(sim: Proc, tmp: Path, redis_url: str, mode: str) -> Gateway:
    config = FAST_CONFIG + f"quota_backend: redis\nquota_redis: {redis_url}?prefix=gw-{mode}\nquota_fail_mode: {mode}\n"
    team = {"team": "quotas: {requests_per_minute: 3}\ncache: {scope: off}\n"}
    policies = write_tenants(tmp / "policies", team, key_of)
    return start_gateway(sim, tmp, f"sqlite:///{tmp / 'gw.db'}", policies=policies, config=config)


def create_status(gw: Gateway, prompt: str) -> tuple[int, dict[str, Any]]:
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key_of('team')}"}, timeout=30) as c:
        response = c.post("/v1/videos", json={"prompt": prompt, "seconds": "4"})
    return response.status_code, {"headers": response.headers, "body": response.json()}


def usage_of(gw: Gateway) -> dict[str, Any]:
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key_of('team')}"}, timeout=30) as c:
        return dict(c.get("/v1/gateway/usage").json())


def test_redis_down_fails_closed_or_open_and_recovers(
    private_redis: RedisServer, simulator: Proc, tmp_path: Path
) -> None:
    closed = outage_gateway(simulator, tmp_path / "closed", private_redis.url, "closed")
    opened = outage_gateway(simulator, tmp_path / "open", private_redis.url, "open")
    try:
        assert create_status(closed, "before the outage")[0] == 200
        assert create_status(opened, "before the outage")[0] == 200
        assert usage_of(opened)["usage"]["requests_last_minute"] == 1

        private_redis.stop()
        status, answer = create_status(closed, "during the outage")
        assert status == 503 and answer["body"]["error"]["code"] == "quota_unavailable"
        assert int(answer["headers"]["retry-after"]) >= 1
        with closed.http() as c:  # reads keep working, and the process did not crash
            assert c.get("/v1/videos").status_code == 200
            ready = httpx.get(closed.url + "/readyz").json()["checks"]["quota"]
            assert ready["up"] is False and ready["fail_mode"] == "closed"
        # fail open: this replica alone enforces requests_per_minute 3 in its own memory
        statuses = [create_status(opened, f"open outage {i}")[0] for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert usage_of(opened)["backend"]["up"] is False
        metrics = httpx.get(opened.url + "/metrics").text
        assert 'sora_gateway_quota_backend_up{backend="redis"} 0.0' in metrics

        private_redis.start()  # same port, empty data: counting starts again in Redis, no restart needed
        wait_for(lambda: create_status(closed, f"after {uuid.uuid4().hex[:6]}")[0] == 200, "fail-closed recovery")
        wait_for(lambda: usage_of(opened)["backend"]["up"] is True, "fail-open recovery")
        assert create_status(opened, "after the outage")[0] == 200
        assert usage_of(opened)["usage"]["requests_last_minute"] == 1  # counted in the restarted Redis again
        assert closed.proc.popen is not None and closed.proc.popen.poll() is None
        assert opened.proc.popen is not None and opened.proc.popen.poll() is None
    finally:
        closed.proc.stop()
        opened.proc.stop()
