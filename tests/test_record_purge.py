"""Finished job records are purged ``record_grace_s`` after they expire; running jobs never are."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.config import Settings
from gateway.content import LocalContentStore
from gateway.content.records import CLAIM, RecordJanitor
from gateway.core.models import Job, Segment, Status
from gateway.store.memory import MemoryStore

DAY = 86400
RETENTION = 7 * DAY


def job(job_id: str, tenant: str, status: Status, *, expires_at: float | None = None, age_s: float = 0) -> Job:
    now = time.time()
    record = Job(
        id=job_id,
        tenant=tenant,
        model="sora-2",
        prompt="p",
        size="720x1280",
        seconds="4",
        status=status,
        segments=[Segment(index=0, seconds=4, prompt="p")],
        created_at=int(now - age_s),
        updated_at=now - age_s,
    )
    if expires_at is not None:
        record.completed_at, record.expires_at = int(expires_at - RETENTION), int(expires_at)
    return record


async def fill(store: MemoryStore, content: LocalContentStore) -> dict[str, Job]:
    now = time.time()
    jobs = {
        "old_done": job("video_a01", "acme", Status.COMPLETED, expires_at=now - 2 * DAY, age_s=10 * DAY),
        "in_grace": job("video_a02", "acme", Status.COMPLETED, expires_at=now - DAY / 2, age_s=8 * DAY),
        "fresh": job("video_a03", "acme", Status.COMPLETED, expires_at=now + DAY),
        "old_failed": job("video_a04", "globex", Status.FAILED, age_s=RETENTION + 2 * DAY),
        "new_failed": job("video_a05", "globex", Status.FAILED, age_s=DAY),
        "old_running": job("video_a06", "acme", Status.IN_PROGRESS, age_s=30 * DAY),
        "anonymous": job("video_a07", "anonymous", Status.COMPLETED, expires_at=now - 3 * DAY, age_s=11 * DAY),
    }
    for record in jobs.values():
        await store.put(record)
        (content.directory(record.id)).mkdir(parents=True)
        (content.directory(record.id) / "video.mp4").write_bytes(b"x")
    return jobs


def janitor(store: MemoryStore, content: LocalContentStore, grace_s: float = DAY) -> RecordJanitor:
    return RecordJanitor(
        store, content, lambda: ["acme", "globex"], retention_s=RETENTION, grace_s=grace_s, first_after_s=0.01
    )


async def test_sweep_purges_only_finished_records_past_expiry_and_grace(tmp_path: Path) -> None:
    store, content = MemoryStore(), LocalContentStore(tmp_path / "content")
    jobs = await fill(store, content)
    purged = await janitor(store, content).sweep()
    gone = {"old_done", "old_failed", "anonymous"}
    assert sorted(purged) == sorted(jobs[name].id for name in gone)
    for name, record in jobs.items():
        kept = await store.get(record.id)
        assert (kept is None) == (name in gone), name
        assert content.directory(record.id).exists() == (name not in gone), name
    assert await janitor(store, content).sweep() == []  # nothing more to do


async def test_pages_of_many_records_are_walked_whole(tmp_path: Path) -> None:
    store, content = MemoryStore(), LocalContentStore(tmp_path / "content")
    old = time.time() - 3 * DAY
    for i in range(250):
        await store.put(job(f"video_b{i:03d}", "acme", Status.COMPLETED, expires_at=old, age_s=11 * DAY))
    await store.put(job("video_c001", "acme", Status.QUEUED))
    assert len(await janitor(store, content).sweep()) == 250
    assert [j.id for j in (await store.list("acme", limit=100))[0]] == ["video_c001"]


async def test_grace_zero_keeps_every_record(tmp_path: Path) -> None:
    store, content = MemoryStore(), LocalContentStore(tmp_path / "content")
    jobs = await fill(store, content)
    keeper = janitor(store, content, grace_s=0)
    await keeper.start()
    assert keeper._task is None, "record_grace_s: 0 disables the janitor"
    assert await keeper.sweep() == []
    assert all([await store.get(j.id) for j in jobs.values()])
    assert Settings().record_grace_s == DAY


async def test_the_loop_sweeps_once_per_interval_across_replicas(tmp_path: Path) -> None:
    store, content = MemoryStore(), LocalContentStore(tmp_path / "content")
    jobs = await fill(store, content)
    await store.kv_set(CLAIM, "another-replica", ttl_s=60)  # another replica swept this round
    running = janitor(store, content)
    await running.start()
    await asyncio.sleep(0.1)
    assert await store.get(jobs["old_done"].id) is not None
    await store.kv_delete(CLAIM)
    await running.stop()
    await running.start()
    for _ in range(50):
        if await store.get(jobs["old_done"].id) is None:
            break
        await asyncio.sleep(0.02)
    await running.stop()
    assert await store.get(jobs["old_done"].id) is None
