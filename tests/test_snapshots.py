"""Poll snapshots (store/snapshots.py): never stale after a change on this replica; bounded across replicas."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gateway.core.ids import new_video_id
from gateway.core.models import Job, Status
from gateway.store.base import JobStore
from gateway.store.snapshots import Snapshots
from gateway.store.sqlite import SqliteStore
from tests.conftest import Gateway, start_gateway
from tests.procs import Proc, start_simulator


def new_job(tenant: str = "acme") -> Job:
    return Job(id=new_video_id(), tenant=tenant, model="sora-2", prompt="p", size="720x1280", seconds="4")


async def test_a_write_on_this_replica_is_seen_by_the_next_poll(store: JobStore) -> None:
    snaps = Snapshots(store, max_age_s=60).attach()  # a long bound: only invalidation can make it fresh
    job = new_job()
    await store.put(job)
    first = await snaps.get(job.id)
    assert first is not None and first.job.status == Status.QUEUED
    assert (await snaps.get(job.id)) is first and snaps.hits == 1  # served from memory
    assert first.rendered("f", lambda j: str(j.status).encode()) == b"queued"
    job.status, job.progress = Status.IN_PROGRESS, 40
    assert await store.update(job)
    second = await snaps.get(job.id)
    assert second is not None and second is not first
    assert second.job.status == Status.IN_PROGRESS and second.rendered("f", lambda j: str(j.status).encode()) == (
        b"in_progress"
    )
    await store.delete(job.id)
    assert await snaps.get(job.id) is None


async def test_a_creates_two_writes_are_seen_by_the_next_poll(store: JobStore) -> None:
    """A new job's one write (record, lease, values) and its second (the upstream's answer with its claim)."""
    snaps = Snapshots(store, max_age_s=60).attach()
    job = new_job()
    await store.put(job)  # a snapshot of an older state of the same id, kept for a long time
    assert (await snaps.get(job.id)) is not None
    job.progress = 5
    await store.put_held(job, "replica-a", 30, [("some-key", "v", None)])
    first = await snaps.get(job.id)
    assert first is not None and first.job.progress == 5, "put_held must invalidate this replica's snapshot"
    job.status, job.progress = Status.IN_PROGRESS, 40
    assert await store.update_claiming(job, "upstream-claim:x:up_1", f"{job.id}:0", 60) == (True, True)
    second = await snaps.get(job.id)
    assert second is not None and second.job.status == Status.IN_PROGRESS, "update_claiming must invalidate too"


async def test_a_read_in_flight_across_a_write_is_not_kept(store: JobStore) -> None:
    snaps = Snapshots(store, max_age_s=60).attach()
    job = new_job()
    await store.put(job)
    real_get = store.get
    gate = asyncio.Event()

    async def slow_get(job_id: str) -> Job | None:
        found = await real_get(job_id)  # reads the old state ...
        await gate.wait()  # ... and is overtaken by a write before it returns
        return found

    store.get = slow_get  # type: ignore[method-assign]
    reader = asyncio.create_task(snaps.get(job.id))
    await asyncio.sleep(0.05)
    job.status = Status.COMPLETED
    await store.update(job)
    gate.set()
    old = await reader
    assert old is not None and old.job.status == Status.QUEUED  # that reader may answer what it read ...
    store.get = real_get  # type: ignore[method-assign]
    fresh = await snaps.get(job.id)
    assert fresh is not None and fresh.job.status == Status.COMPLETED  # ... but it was not kept for the next


async def test_another_replicas_write_is_seen_within_the_bound(tmp_path: Path) -> None:
    here, there = SqliteStore(tmp_path / "gw.db"), SqliteStore(tmp_path / "gw.db")  # two replicas, one file
    try:
        snaps = Snapshots(here, max_age_s=0.2).attach()
        job = new_job()
        await here.put(job)
        assert (await snaps.get(job.id)).job.status == Status.QUEUED  # type: ignore[union-attr]
        job.status = Status.COMPLETED
        await there.update(job)  # not through this replica: no invalidation, only the bound
        deadline = time.monotonic() + 30
        while (await snaps.get(job.id)).job.status != Status.COMPLETED:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the other replica's change never showed"
            await asyncio.sleep(0.05)
        off = Snapshots(here, max_age_s=0)
        a, b = await off.get(job.id), await off.get(job.id)
        assert a is not b and off.hits == 0  # 0 turns snapshots off
    finally:
        await here.close()
        await there.close()


@pytest.fixture(scope="module")
def sim() -> Proc:
    proc = start_simulator()
    yield proc  # type: ignore[misc]
    proc.stop()


def test_sdk_polls_follow_every_state_and_other_teams_get_404(sim: Proc, tmp_path: Path) -> None:
    gw: Gateway = start_gateway(sim, tmp_path, f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        client = gw.client()
        video = client.videos.create(prompt="snapshot", seconds="4")
        seen = []
        deadline = time.monotonic() + 60
        while (current := client.videos.retrieve(video.id)).status not in ("completed", "failed"):
            seen.append(current.status)
            assert time.monotonic() < deadline
        assert current.status == "completed" and current.progress == 100
        with gw.http() as http:
            polled = http.get(f"/v1/videos/{video.id}")
            assert polled.json() == http.get("/v1/videos", params={"limit": 1}).json()["data"][0]
            assert "openai-poll-after-ms" not in polled.headers  # finished: no hint
        with gw.http("globex") as http:
            other = http.get(f"/v1/videos/{video.id}")
            assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
        client.videos.delete(video.id)
        with gw.http() as http:
            assert http.get(f"/v1/videos/{video.id}").status_code == 404  # deleted here: gone at once
    finally:
        gw.proc.stop()
