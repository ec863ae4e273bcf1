"""The job driver: one loop per replica that moves every accepted job to the end.

Each active job is driven by one replica at a time, the holder of its lease.
A replica that dies simply stops renewing; once the lease expires another
replica's loop takes the job over from the state in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from gateway.content import LocalContentStore
from gateway.core.models import Job, Status
from gateway.jobs.advance import SegmentRunner, aggregate, backoff
from gateway.jobs.finalize import all_segments_done, fetch_and_assemble, mark_completed
from gateway.jobs.follow import follow_leader, is_follower
from gateway.observability import JOB_TRANSITIONS, DrivenJobs, log
from gateway.store.base import JobStore, StoreError
from gateway.upstreams.base import Upstream, UpstreamError

JobListener = Callable[[Job], Awaitable[None]]


class JobDriver:
    def __init__(
        self,
        store: JobStore,
        upstream: Callable[[], Upstream],
        content: LocalContentStore,
        *,
        owner: str,
        lease_ttl_s: float = 15.0,
        tick_s: float = 0.2,
        poll_min_s: float = 0.25,
        poll_max_s: float = 15.0,
        max_attempts: int = 3,
        retention_s: int = 7 * 86400,
        concurrency: int = 32,
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.content = content
        self.owner = owner
        self.lease_ttl_s = lease_ttl_s
        self.tick_s = tick_s
        self.retention_s = retention_s
        self.runner_options = {"poll_min_s": poll_min_s, "poll_max_s": poll_max_s, "max_attempts": max_attempts}
        self.on_terminal: list[JobListener] = []
        self._next_check: dict[str, float] = {}
        self._held: set[str] = set()
        self._inflight: set[str] = set()
        self._sem = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.metrics = DrivenJobs()  # sora_gateway_jobs{state,tenant} for the jobs this replica holds

    def runner(self) -> SegmentRunner:
        return SegmentRunner(self.upstream(), content=self.content, **self.runner_options)  # type: ignore[arg-type]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="job-driver")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finish in-flight steps, then hand every lease back so another replica continues at once."""
        self._stopping.set()
        if self._task:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, grace_s)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        for job_id in list(self._held):
            with contextlib.suppress(StoreError):
                await self.store.release_lease(job_id, self.owner)
        self._held.clear()
        self.metrics.clear()
        self.metrics.publish()

    @contextlib.asynccontextmanager
    async def holding(self, job_id: str) -> AsyncIterator[None]:
        """Keep this replica's loop off a job while a request works on it (the first submit)."""
        self._inflight.add(job_id)
        try:
            await self.store.acquire_lease(job_id, self.owner, self.lease_ttl_s)
            self._held.add(job_id)
            yield
        finally:
            self._inflight.discard(job_id)

    def wake(self, job_id: str) -> None:
        """Look at a job on the next tick (a new job, a client action)."""
        self._next_check[job_id] = 0.0

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ids = await self.store.active_ids()
            except StoreError:  # counted by the instrumented store
                await asyncio.sleep(1.0)
                continue
            now = time.monotonic()
            known = set(ids)
            for stale in set(self._next_check) - known:
                self._next_check.pop(stale, None)
            for job_id in ids:
                if job_id in self._inflight or self._next_check.get(job_id, 0.0) > now:
                    continue
                self._inflight.add(job_id)
                task = asyncio.create_task(self._drive(job_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            self.metrics.keep_only(self._held & known)
            self.metrics.publish()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick_s)

    async def _drive(self, job_id: str) -> None:
        try:
            async with self._sem:
                await self._drive_once(job_id)
        except StoreError:
            self._next_check[job_id] = time.monotonic() + 1.0
        except Exception:  # a bug in one job must not stop the others
            log.exception("job_driver_error", video_id=job_id)
            self._next_check[job_id] = time.monotonic() + 5.0
        finally:
            self._inflight.discard(job_id)

    async def _drive_once(self, job_id: str) -> None:
        if not await self.store.acquire_lease(job_id, self.owner, self.lease_ttl_s):
            self._held.discard(job_id)
            self.metrics.forget(job_id)
            self._next_check[job_id] = time.monotonic() + self.lease_ttl_s / 3
            return
        self._held.add(job_id)
        job = await self.store.get(job_id)
        if job is None or job.terminal:
            await self._release(job_id)
            return
        await self.advance(job)
        if job.terminal:
            await self._release(job_id)
            return
        self.metrics.track(job.id, str(job.status), job.tenant, job.created_at)
        due = min((s.next_poll_at for s in job.segments if s.status not in ("completed", "failed")), default=0.0)
        self._next_check[job_id] = time.monotonic() + max(0.0, min(due - time.time(), self.lease_ttl_s / 3))

    async def _release(self, job_id: str) -> None:
        self._held.discard(job_id)
        self.metrics.forget(job_id)
        self._next_check.pop(job_id, None)
        await self.store.release_lease(job_id, self.owner)

    async def save(self, job: Job) -> None:
        job.updated_at = time.time()
        # a client may have deleted the job while we were talking to the upstream
        if await self.store.get(job.id) is None:
            return
        await self.store.put(job)

    async def advance(self, job: Job) -> None:
        """Drive ``job`` one step and persist what changed."""
        before = (job.status, job.progress)
        upstream = self.upstream()
        following = is_follower(job)  # a coalesced create mirrors its leader's record, never the upstream
        if following:
            await follow_leader(
                job, self.store, self.content, retention_s=self.retention_s, poll_s=self.runner_options["poll_min_s"]
            )
        else:
            await self.runner().step(job, self.save)
        if not following and not job.terminal and all_segments_done(job):
            try:
                await fetch_and_assemble(job, upstream, self.content)
            except UpstreamError as exc:
                job.segments[-1].next_poll_at = time.time() + backoff(3, exc.retry_after, 30.0)
                log.warning("content_fetch_retry", video_id=job.id, status=exc.status)
                if exc.status == 404:
                    job.status, job.error = (
                        Status.FAILED,
                        {
                            "code": "content_expired",
                            "message": "The upstream expired the video before it could be fetched.",
                        },
                    )
            else:
                mark_completed(job, self.retention_s)
        aggregate(job)
        await self.save(job)
        if job.status != before[0]:
            JOB_TRANSITIONS.labels(str(job.status), job.tenant).inc()
            log.info(
                "job_transition",
                video_id=job.id,
                tenant=job.tenant,
                upstream=job.upstream,
                model=job.model,
                from_status=str(before[0]),
                status=str(job.status),
                progress=job.progress,
                age_s=round(time.time() - job.created_at, 3),
                error=(job.error or {}).get("code"),
            )
        elif job.progress != before[1]:
            log.debug("job_progress", video_id=job.id, tenant=job.tenant, status=str(job.status), progress=job.progress)
        if job.terminal:
            for listener in self.on_terminal:
                await listener(job)
