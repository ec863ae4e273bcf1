"""A create is one durable write before its upstream call and one after it (issue 20, item 2).

Admission's record, the job's lease, the in-process quota's counters and the Idempotency-Key's claim naming
the job commit in one SQLite transaction / one Redis MULTI (``JobStore.put_held``), with the first segment
already marked ``submitting``; the upstream's answer and the claim of its id commit in a second one.
Counted on the real stores: SQLite commits through the connection's statement trace, Redis round trips
that carry a write through the client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio.client as redis_client

from gateway.content import LocalContentStore
from gateway.core.models import SegStatus, VideoRequest
from gateway.errors import ApiError
from gateway.jobs.driver import JobDriver
from gateway.pipeline.idempotency import Answer, IdempotencyKeys
from gateway.pipeline.service import VideoService
from gateway.policies.model import Quotas, Tenant
from gateway.providers import PROFILES
from gateway.quota.memory import MemoryQuota
from gateway.quota.service import QuotaService
from gateway.quota.stages import QuotaStage
from gateway.store.base import JobStore
from gateway.store.redis_store import RedisStore
from gateway.store.sqlite import SqliteStore
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import drop_redis_prefix
from tests.procs import REDIS_URL, require_redis

TENANT = Tenant(name="acme")
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# redis commands that only read; any other command in a round trip makes it a write
READS = {"GET", "MGET", "EXISTS", "ZRANK", "ZREVRANK", "ZRANGE", "ZREVRANGE", "SMEMBERS", "HGET", "HGETALL", "PING"}


class Writes:
    """Durable writes counted on a store, and how many had landed when the upstream was called."""

    def __init__(self) -> None:
        self.count = 0
        self.before_upstream: int | None = None
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


class Upstream:
    name = "fake"
    base_url = "http://fake"

    def __init__(self, writes: Writes) -> None:
        self.writes = writes
        self.creates: list[GenerationSpec] = []
        self.made = 0

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self.writes.before_upstream = self.writes.count
        self.creates.append(spec)
        self.made += 1
        return UpstreamVideo(id=f"up_{self.made}", status="queued")


def count_sqlite(store: SqliteStore, writes: Writes) -> None:
    """Count commits: each COMMIT, and each write statement outside an explicit transaction (autocommit)."""
    in_tx = False

    def trace(sql: str) -> None:
        nonlocal in_tx
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if verb == "BEGIN":
            in_tx = True
        elif verb in ("COMMIT", "END"):
            in_tx = False
            writes.add()
        elif verb == "ROLLBACK":
            in_tx = False
        elif verb in WRITES and not in_tx:
            writes.add()

    store._executor.submit(lambda: store._db().set_trace_callback(trace)).result()


def count_redis(monkeypatch: pytest.MonkeyPatch, writes: Writes) -> None:
    """Count round trips to Redis that carry a write: one command, or one pipeline (MULTI/EXEC) in full."""
    command = redis_client.Redis.execute_command
    pipeline = redis_client.Pipeline.execute

    async def one(self: Any, *args: Any, **options: Any) -> Any:
        if str(args[0]).upper() not in READS:
            writes.add()
        return await command(self, *args, **options)

    async def many(self: Any, *args: Any, **kwargs: Any) -> Any:
        names = {str(cmd[0][0]).upper() for cmd in self.command_stack}
        if names - READS:
            writes.add()
        return await pipeline(self, *args, **kwargs)

    monkeypatch.setattr(redis_client.Redis, "execute_command", one)
    monkeypatch.setattr(redis_client.Pipeline, "execute", many)


def service(tmp_path: Path, store: JobStore, upstream: Upstream) -> VideoService:
    content = LocalContentStore(tmp_path / "content")
    driver = JobDriver(store, lambda: upstream, content, owner="test")  # type: ignore[arg-type,return-value]
    runtime = SimpleNamespace(
        caps=PROFILES["openai-2025-10"], current=lambda: upstream, name="default", adapter_of=lambda job: upstream
    )
    runtime.pick = lambda source=None: runtime
    runtime.candidates = lambda source=None: [runtime]
    return VideoService(store, runtime, driver, content, stages=[])  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "redis"])
async def counted(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[JobStore, Writes]]:
    writes = Writes()
    store: JobStore
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "gw.db")
        store._next_sweep = float("inf")  # its minutely housekeeping commit is no create's
        count_sqlite(store, writes)
    else:
        require_redis()
        prefix = "sgtest-writes-" + tmp_path.name[-12:]
        store = RedisStore(REDIS_URL, prefix=prefix)
        count_redis(monkeypatch, writes)
    try:
        yield store, writes
    finally:
        await store.close()
        if request.param == "redis":
            await drop_redis_prefix(prefix)


async def create_counted(tmp_path: Path, store: JobStore, writes: Writes) -> tuple[Any, Upstream]:
    """One create counted, after one that is not (Redis loads each script on its first call)."""
    upstream = Upstream(writes)
    svc = service(tmp_path, store, upstream)
    await svc.create(TENANT, VideoRequest(prompt="the first kite"))
    upstream.creates.clear()
    writes.count = 0
    created = await svc.create(TENANT, VideoRequest(prompt="a kite over the sea"))
    return created, upstream


async def test_a_create_is_one_write_before_the_upstream_call_and_one_after(
    tmp_path: Path, counted: tuple[JobStore, Writes]
) -> None:
    store, writes = counted
    created, upstream = await create_counted(tmp_path, store, writes)
    assert len(upstream.creates) == 1
    assert writes.before_upstream == 1, f"{writes.before_upstream} durable writes before the upstream call"
    assert writes.count == 2, f"{writes.count} durable writes for one create"
    kept = await store.get(created.job.id)
    assert kept is not None and kept.segments[0].upstream_id == "up_2"
    claimed = await store.kv_get("upstream-claim:fake:up_2")
    assert claimed == f"{created.job.id}:0", "the upstream id must be claimed for the job (with its save)"
    assert kept.segments[0].status == SegStatus.QUEUED


async def test_the_record_is_durable_as_submitting_before_the_upstream_call(
    tmp_path: Path, counted: tuple[JobStore, Writes]
) -> None:
    """What a crash during the upstream call leaves: the job, its lease and the `submitting` mark (so the
    restarted loop reconciles before any re-send), all from the one write."""
    store, writes = counted
    seen: dict[str, Any] = {}
    upstream = Upstream(writes)
    real = upstream.create

    async def create(spec: GenerationSpec) -> UpstreamVideo:
        job_id = spec.idempotency_key.rsplit("-", 2)[0]
        seen["job"] = await store.get(job_id)
        seen["lease_free"] = await store.acquire_lease(job_id, "another-replica", 5)
        return await real(spec)

    upstream.create = create  # type: ignore[method-assign]
    svc = service(tmp_path, store, upstream)
    await svc.create(TENANT, VideoRequest(prompt="a kite over the sea"))
    job = seen["job"]
    assert job is not None, "the job must be stored before the upstream call"
    assert job.segments[0].status == SegStatus.SUBMITTING and job.segments[0].submitted_at is not None
    assert job.segments[0].attempts == 1
    assert seen["lease_free"] is False, "the job's lease must be held (stored with it) during the upstream call"


async def test_an_idempotency_key_names_the_job_in_the_same_write(
    tmp_path: Path, counted: tuple[JobStore, Writes]
) -> None:
    store, writes = counted
    upstream = Upstream(writes)
    svc = service(tmp_path, store, upstream)
    keys = IdempotencyKeys(store)
    claim: dict[str, Any] = {}
    real = upstream.create

    async def create(spec: GenerationSpec) -> UpstreamVideo:
        claim.update(json.loads(await store.kv_get(keys._kv_key("acme", "key-1")) or "{}"))
        return await real(spec)

    upstream.create = create  # type: ignore[method-assign]

    async def produce() -> Answer:
        created = await svc.create(TENANT, VideoRequest(prompt="a kite over the sea"))
        return Answer(200, json.dumps({"id": created.job.id}))

    writes.count = 0
    answer, _ = await keys.run("acme", "key-1", "fp", produce)
    made = json.loads(answer.body)["id"]
    assert claim.get("jobs") == [made], "the claim must name the job before the upstream call"
    # the claim's lease and pending record, the job with the claim naming it, the upstream's answer, the saved
    # answer; and the claim's lease released
    assert writes.before_upstream == 2 + 1, f"{writes.before_upstream} durable writes before the upstream call"
    assert writes.count <= 2 + 1 + 1 + 2, f"{writes.count} durable writes"


async def test_the_quota_charge_is_written_with_the_job(tmp_path: Path) -> None:
    """The in-process quota's day and month counters (written through to SQLite) go in the job's write; an
    upstream refusal gives them back, durably."""
    writes = Writes()
    store = SqliteStore(tmp_path / "gw.db")
    store._next_sweep = float("inf")
    count_sqlite(store, writes)
    try:
        upstream = Upstream(writes)
        svc = service(tmp_path, store, upstream)
        quota = QuotaService(MemoryQuota(persist=store), jobs=store)
        svc.stages = [QuotaStage(quota)]
        team = Tenant(name="acme", quotas=Quotas(video_seconds_per_day=1000, budget_usd_per_month=100))
        await svc.create(team, VideoRequest(prompt="the first kite", seconds="4"))
        writes.count = 0
        created = await svc.create(team, VideoRequest(prompt="a kite over the sea", seconds="4"))
        assert writes.before_upstream == 1, f"{writes.before_upstream} durable writes before the upstream call"
        assert writes.count == 2, f"{writes.count} durable writes for one create"
        day = created.job.requested["charged"]["day"]
        assert await store.kv_get(f"quota:acme:seconds:{day}") == "8", "both charges must be durable"

        async def refuse(spec: GenerationSpec) -> UpstreamVideo:
            raise UpstreamError(400, "moderation", code="moderation_blocked")

        upstream.create = refuse  # type: ignore[method-assign]
        with pytest.raises(ApiError):
            await svc.create(team, VideoRequest(prompt="a refused kite", seconds="4"))
        assert await store.kv_get(f"quota:acme:seconds:{day}") == "8", "a refused create must not stay charged"
    finally:
        await store.close()
