"""The job driver under trouble: failing listeners, crashes, slow steps, deletes mid-step, assembly
errors, dialect switches, paging while deleting. Unit level, with the real stores and fake upstreams."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.content import LocalContentStore
from gateway.core.ids import new_video_id
from gateway.core.models import Job, Segment, SegStatus, Status
from gateway.jobs import driver as driver_module
from gateway.jobs import finalize as finalize_module
from gateway.jobs.driver import FINALIZE_ERRORS, JobDriver
from gateway.pipeline.cache import SharedIndex
from gateway.pipeline.coalesce import InFlight
from gateway.pipeline.service import VideoService
from gateway.providers import CATALOG
from gateway.providers.azure_sora1.dialect import AzureSora1Upstream
from gateway.providers.openai.dialect import OpenAIVideosUpstream
from gateway.store.base import EVENTS_PENDING, JobStore, StoreError
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.runtime import UpstreamRuntime

FAST = {"tick_s": 0.02, "poll_min_s": 0.02, "poll_max_s": 0.5}


class FakeUpstream:
    """An :class:`~gateway.upstreams.base.Upstream` that counts its calls; behaviour set per test."""

    name = "fake"
    base_url = "http://fake"

    def __init__(self, *, status: str = "completed", create_delay: float = 0.0, download_s: float = 0.0) -> None:
        self.status = status
        self.create_delay = create_delay
        self.download_s = download_s
        self.calls: dict[str, int] = {}
        self.deleted: list[str] = []
        self.content_error: UpstreamError | None = None
        self.retrieve_errors: list[UpstreamError] = []  # raised first, one per poll

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self._count("create")
        await asyncio.sleep(self.create_delay)
        return UpstreamVideo(id=f"up_{uuid.uuid4().hex[:8]}", status="queued")

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        self._count("retrieve")
        if self.retrieve_errors:
            raise self.retrieve_errors.pop(0)
        progress = 100 if self.status == "completed" else 50
        return UpstreamVideo(id=upstream_id, status=self.status, progress=progress, poll_after_ms=20)

    async def delete(self, upstream_id: str) -> None:
        self._count("delete")
        self.deleted.append(upstream_id)

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        self._count("content")
        self._count(f"content:{variant}")
        if self.content_error is not None:
            raise self.content_error
        if variant != "video":
            raise UpstreamError(404, "no preview")
        steps = 10

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(steps):
                await asyncio.sleep(self.download_s / steps)
                yield b"x" * 100

        return ContentStream(200, {"content-type": "video/mp4"}, chunks())

    async def list_models(self) -> list[dict[str, Any]]:
        return []

    async def forward(self, method: str, path: str, *, json: Any = None, files: Any = None, data: Any = None) -> Any:
        return 404, {}

    async def close(self) -> None:
        return None


def make_job(job_id: str | None = None, **fields: Any) -> Job:
    seg = fields.pop("segment", None) or Segment(index=0, seconds=4, prompt="p")
    return Job(
        id=job_id or new_video_id(),
        tenant="acme",
        model="sora-2",
        prompt="p",
        size="720x1280",
        seconds="4",
        segments=[seg],
        **fields,
    )


def running_segment(upstream_id: str = "up_1") -> Segment:
    return Segment(index=0, seconds=4, prompt="p", upstream_id=upstream_id, status=SegStatus.IN_PROGRESS)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds; a generous deadline (a loaded CI machine), never a duration asserted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def driver_for(store: JobStore, up: FakeUpstream, tmp: Path, owner: str = "r1", **kw: Any) -> JobDriver:
    return JobDriver(store, lambda: up, LocalContentStore(tmp / "content"), owner=owner, **{**FAST, **kw})


# -- item 1: terminal listeners ---------------------------------------------------


async def test_failing_listener_does_not_stop_the_others_and_is_retried(store: JobStore, tmp_path: Path) -> None:
    up = FakeUpstream(status="failed")
    driver = driver_for(store, up, tmp_path)
    heard: list[str] = []
    broken = {"on": True}

    async def cache_listener(job: Job) -> None:
        if broken["on"]:
            raise StoreError("redis blip")
        heard.append("cache")

    async def quota_listener(job: Job) -> None:
        heard.append("quota")

    driver.on_terminal += [cache_listener, quota_listener]
    job = make_job(segment=running_segment())
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _true(heard), what="the quota listener")
        stored = await store.get(job.id)
        assert stored is not None and stored.status == Status.FAILED
        assert stored.requested.get(EVENTS_PENDING) is True, "a failed listener must be retried later"
        assert job.id in await store.active_ids()
        broken["on"] = False
        driver.wake(job.id)
        await wait_until(lambda: _false(store.active_ids()), what="the listeners to be done")
    finally:
        await driver.stop(1)
    assert "cache" in heard
    stored = await store.get(job.id)
    assert stored is not None and EVENTS_PENDING not in stored.requested


async def _true(items: list[str]) -> bool:
    return bool(items)


async def _false(ids: Awaitable[list[str]]) -> bool:
    return not await ids


async def test_listeners_run_after_a_crash_between_the_end_and_them(store: JobStore, tmp_path: Path) -> None:
    # what a replica killed right after the terminal save leaves behind
    job = make_job(status=Status.COMPLETED, segment=running_segment(), requested={EVENTS_PENDING: True})
    job.segments[0].status = SegStatus.COMPLETED
    await store.put(job)
    assert await store.active_ids() == [job.id]
    driver = driver_for(store, FakeUpstream(), tmp_path)
    heard: list[str] = []

    async def listener(j: Job) -> None:
        heard.append(j.id)

    driver.on_terminal.append(listener)
    await driver.start()
    try:
        await wait_until(lambda: _false(store.active_ids()), what="the pending listeners")
    finally:
        await driver.stop(1)
    assert heard == [job.id]
    stored = await store.get(job.id)
    assert stored is not None and stored.status == Status.COMPLETED and EVENTS_PENDING not in stored.requested


async def test_service_tells_every_listener_and_quota_comes_first(tmp_path: Path) -> None:
    store = MemoryStore()
    driver = driver_for(store, FakeUpstream(), tmp_path)
    heard: list[str] = []

    class Broken:
        async def job_finished(self, job: Job) -> None:
            raise StoreError("redis blip")

        async def job_deleted(self, job: Job) -> None:
            raise StoreError("redis blip")

    class Recording:
        async def job_finished(self, job: Job) -> None:
            heard.append("finished")

        async def job_deleted(self, job: Job) -> None:
            heard.append("deleted")

    service = VideoService(store, None, driver, LocalContentStore(tmp_path / "c"), events=[Broken(), Recording()])  # type: ignore[arg-type]
    with pytest.raises(StoreError):  # raised after every listener ran, so the driver retries
        await service._finished(make_job())
    assert heard == ["finished"]

    from gateway.app import build_context
    from gateway.config import Settings
    from gateway.quota.events import QuotaEvents

    settings = Settings(store="memory://", data_dir=str(tmp_path / "d"), allow_anonymous=True, upstream_api_key="k")
    ctx = build_context(settings)
    assert isinstance(ctx.service.events[0], QuotaEvents)


# -- item 2: download backoff --------------------------------------------------------


async def test_content_download_honours_retry_after(tmp_path: Path) -> None:
    store = MemoryStore()
    up = FakeUpstream()
    up.content_error = UpstreamError(429, "slow down", retry_after=30)
    driver = driver_for(store, up, tmp_path)
    job = make_job(segment=running_segment())
    await store.put(job)
    await driver.start()
    for _ in range(15):  # client actions wake the job: still no download before Retry-After
        await asyncio.sleep(0.1)
        driver.wake(job.id)
    await driver.stop(1)
    assert up.calls.get("content") == 1, up.calls
    stored = await store.get(job.id)
    assert stored is not None and stored.requested[driver_module.FETCH_AFTER] > time.time() + 25


# -- item 3: leases ------------------------------------------------------------------


async def test_heartbeat_keeps_a_second_driver_off_a_slow_step(store: JobStore, tmp_path: Path) -> None:
    ups = [FakeUpstream(download_s=2.0), FakeUpstream(download_s=2.0)]
    drivers = [driver_for(store, up, tmp_path, owner=f"r{i}", lease_ttl_s=0.6) for i, up in enumerate(ups)]
    finished: list[str] = []
    for d in drivers:
        d.on_terminal.append(lambda job, o=d.owner: _append(finished, o))
    job = make_job(segment=running_segment())
    await store.put(job)
    for d in drivers:
        await d.start()
    try:
        await wait_until(lambda: _true(finished), what="the job to finish")
        await asyncio.sleep(0.5)
    finally:
        for d in drivers:
            await d.stop(1)
    assert sum(up.calls.get("content:video", 0) for up in ups) == 1, [up.calls for up in ups]
    assert len(finished) == 1


async def _append(items: list[str], item: str) -> None:
    items.append(item)


async def test_a_step_that_lost_its_lease_saves_nothing(tmp_path: Path) -> None:
    store = MemoryStore()
    up = FakeUpstream(download_s=1.5)
    driver = driver_for(store, up, tmp_path, lease_ttl_s=0.6)
    job = make_job(segment=running_segment())
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _called(up, "content"), what="the download")
        await store.release_lease(job.id, "r1")  # as if r1 stalled past its lease and r2 took over
        assert await store.acquire_lease(job.id, "r2", 30)
        await asyncio.sleep(2.0)
    finally:
        await driver.stop(1)
    stored = await store.get(job.id)
    assert stored is not None and stored.status != Status.COMPLETED, "a step without its lease wrote the job"


async def _called(up: FakeUpstream, op: str) -> bool:
    return up.calls.get(op, 0) > 0


# -- item 7: conditional saves --------------------------------------------------------


async def test_delete_during_submit_is_not_undone(store: JobStore, tmp_path: Path) -> None:
    up = FakeUpstream(status="in_progress", create_delay=0.5)
    driver = driver_for(store, up, tmp_path)
    job = make_job()
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _called(up, "create"), what="the upstream create")
        assert await store.delete(job.id)  # the client's DELETE while the create is on the wire
        await asyncio.sleep(1.0)
    finally:
        await driver.stop(1)
    assert await store.get(job.id) is None, "the driver brought a deleted job back"
    assert len(up.deleted) == 1, "the upstream video created for a deleted job was left behind"
    assert not driver.content.directory(job.id).exists()


async def test_update_only_replaces_an_existing_record(store: JobStore) -> None:
    job = make_job()
    assert await store.update(job) is False
    assert await store.get(job.id) is None and await store.active_ids() == []


# -- item 9: assembly errors ------------------------------------------------------------


async def test_assembly_error_fails_the_job_after_a_few_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    async def broken_assembly(job: Job, upstream: Any, content: Any) -> None:
        attempts.append(job.id)
        raise ValueError("the parts cannot be stitched")  # a full disk waits instead: tests/test_disk_full.py

    monkeypatch.setattr(finalize_module, "fetch_and_assemble", broken_assembly)
    monkeypatch.setattr(finalize_module, "backoff", lambda *a, **k: 0.05)
    store = MemoryStore()
    driver = driver_for(store, FakeUpstream(), tmp_path)
    job = make_job(segment=running_segment())
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _false(store.active_ids()), what="the job to fail")
        await asyncio.sleep(0.3)
    finally:
        await driver.stop(1)
    stored = await store.get(job.id)
    assert stored is not None and stored.status == Status.FAILED
    assert stored.error is not None and stored.error["code"] == "video_assembly_failed"
    assert len(attempts) == driver_module.MAX_FINALIZE_ATTEMPTS
    assert stored.requested[FINALIZE_ERRORS] == driver_module.MAX_FINALIZE_ATTEMPTS


# -- item 11: dialects -------------------------------------------------------------------


async def test_runtime_keeps_one_adapter_per_dialect() -> None:
    runtime = UpstreamRuntime("http://127.0.0.1:9/v1", "k", catalog=CATALOG, pinned="openai-2025-10")
    openai = runtime.current()
    assert isinstance(openai, OpenAIVideosUpstream)
    assert runtime.adapter_for("openai-2026-03") is openai
    assert runtime.adapter_for("default") is openai  # records made before jobs named their profile
    assert isinstance(runtime.adapter_for("azure-sora-1"), AzureSora1Upstream)
    runtime._switch("azure-sora-1", "detected")
    assert isinstance(runtime.current(), AzureSora1Upstream)
    assert runtime.adapter_for("openai-2025-10") is openai, "a job in flight must keep its dialect"
    await runtime.close()


async def test_job_is_driven_by_the_adapter_of_its_profile(tmp_path: Path) -> None:
    store = MemoryStore()
    current, original = FakeUpstream(), FakeUpstream()
    adapters = {"azure-sora-1": current, "openai-2025-10": original}
    driver = JobDriver(
        store,
        lambda: current,
        LocalContentStore(tmp_path / "content"),
        owner="r1",
        adapter_for=lambda profile: adapters.get(profile, current),
        **FAST,  # type: ignore[arg-type]
    )
    original.retrieve_errors = [UpstreamError(404, "not found"), UpstreamError(404, "not found")]
    job = make_job(segment=running_segment(), upstream="openai-2025-10")
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _false(store.active_ids()), what="the job to finish")
    finally:
        await driver.stop(1)
    stored = await store.get(job.id)
    assert stored is not None and stored.status == Status.COMPLETED
    assert current.calls == {}, "the job was re-routed to the new dialect"
    assert original.calls.get("create", 0) == 0, "a passing 404 regenerated the video"
    assert original.calls["retrieve"] == 3


# -- items 12 and 16: the loop ------------------------------------------------------------


async def test_loop_survives_errors_and_reports_liveness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    driver = driver_for(store, FakeUpstream(status="in_progress"), tmp_path)
    assert driver.status()["ok"] is False  # not started
    real = store.active_ids
    failures = {"left": 3}

    async def flaky() -> list[str]:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("a bug")
        return await real()

    monkeypatch.setattr(store, "active_ids", flaky)
    job = make_job(segment=running_segment())
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _has(driver, job.id), what="the job to be held")
        assert driver.status()["ok"] is True
        await store.delete(job.id)
        await wait_until(lambda: _has_not(driver, job.id), what="the deleted job to be forgotten")
    finally:
        await driver.stop(1)
    assert failures["left"] == 0
    driver._task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    driver._task.set_result(None)  # type: ignore[union-attr]
    assert driver.status()["ok"] is False  # a finished loop task is reported


async def _has(driver: JobDriver, job_id: str) -> bool:
    return job_id in driver._held


async def _has_not(driver: JobDriver, job_id: str) -> bool:
    return job_id not in driver._held


async def test_holding_failure_leaves_nothing_held(tmp_path: Path) -> None:
    store = MemoryStore()
    driver = driver_for(store, FakeUpstream(), tmp_path)
    with pytest.raises(RuntimeError):
        async with driver.holding("video_x"):
            raise RuntimeError("refused")
    assert "video_x" not in driver._held and not driver._leases
    assert await store.acquire_lease("video_x", "other", 5), "the lease was not handed back"


# -- item 5: paging while deleting ------------------------------------------------------------


async def test_list_continues_after_a_deleted_cursor(store: JobStore) -> None:
    jobs = []
    for i in range(7):
        created = 1_000 + i // 2  # pairs share a second: ties are broken by id
        job_id = f"video_{created * 1_000_000 + i:014x}{secrets.token_hex(17)}"
        jobs.append(make_job(job_id, created_at=created))
    for order in ("desc", "asc"):
        for job in jobs:
            await store.put(job)
        seen: list[str] = []
        after: str | None = None
        while True:  # for v in client.videos.list(limit=2): client.videos.delete(v.id)
            page, more = await store.list("acme", after=after, limit=2, order=order)
            seen += [j.id for j in page]
            for j in page:
                await store.delete(j.id)
            if not more:
                break
            after = page[-1].id
        assert seen == sorted((j.id for j in jobs), reverse=order == "desc"), order
    assert await store.list("acme", after="not-a-gateway-id") == ([], False)


# -- item 18: compare-and-delete ------------------------------------------------------------


async def test_cache_and_coalesce_drop_only_their_own_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStore(tmp_path / "gw.db")
    await store.kv_set("cache:hit:k", "video_new")
    await store.kv_set("cache:inflight:k", "video_new")

    async def stale_read(key: str) -> str:  # what a reader saw just before another replica rewrote the key
        return "video_old"

    monkeypatch.setattr(store, "kv_get", stale_read)
    await SharedIndex(store, ttl_s=60).drop("k", "video_old")
    await InFlight(store, ttl_s=60).release("k", "video_old")
    monkeypatch.undo()
    assert await store.kv_get("cache:hit:k") == "video_new"
    assert await store.kv_get("cache:inflight:k") == "video_new"
    await store.close()
