"""The job driver: one loop per replica that moves every accepted job to the end.

Each active job is driven by one replica at a time, the holder of its lease.
While a step runs (an upstream call, a download, a stitch) a heartbeat renews
the lease every ``lease_ttl_s / 3``; a step whose lease was lost saves nothing,
and every save is conditional (:meth:`JobStore.update`), so a job a client
deleted meanwhile is not brought back. A replica that dies simply stops
renewing; once the lease expires another replica's loop takes the job over
from the state in the store.

When a job ends, the save that makes it terminal also marks it
``events_pending``; the stores keep such jobs in their active set, so the
terminal listeners (quota release and refund, cache index) run — each on its
own, a failing one retried later — even if the replica dies right after that
save. The flag is cleared once they ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.content import ContentStore
from gateway.core.models import Job
from gateway.jobs.advance import SegmentRunner, aggregate
from gateway.jobs.fairqueue import FairQueue
from gateway.jobs.finalize import (  # noqa: F401 - FINALIZE_ERRORS, MAX_FINALIZE_ATTEMPTS re-exported
    FETCH_AFTER,
    FINALIZE_ERRORS,
    MAX_FINALIZE_ATTEMPTS,
    all_segments_done,
    finalize_job,
)
from gateway.jobs.follow import follow_leader, is_follower
from gateway.jobs.sweep import Sweeps
from gateway.observability import JOB_TRANSITIONS, DrivenJobs, log
from gateway.pipeline.coalesce import upstream_shared
from gateway.store.base import EVENTS_PENDING, JobStore, StoreError
from gateway.upstreams.base import Upstream, UpstreamError

JobListener = Callable[[Job], Awaitable[None]]

# keys in Job.requested the driver keeps for itself
EVENTS_ATTEMPTS = "events_attempts"  # how often the terminal listeners failed
ORPHANS_DELETED = "orphans_deleted"  # upstream ids already deleted for a job deleted mid-step (not stored)

MAX_EVENT_ATTEMPTS = 12  # then the listeners are given up on (logged); ~20 minutes of retries
LOOP_STALE_S = 30.0  # /readyz: the loop has not ticked for this long (or tick_s x 50, if longer)


@dataclass
class Lease:
    """This replica's hold on one job while a step runs; renewed by a heartbeat."""

    ttl_s: float
    renewed_at: float  # monotonic time just before the last successful acquire
    lost: bool = False

    @property
    def valid(self) -> bool:
        """Safe to write: not taken by another owner and (with margin) not expired."""
        return not self.lost and time.monotonic() - self.renewed_at < self.ttl_s * 0.9


class JobDriver:
    def __init__(
        self,
        store: JobStore,
        upstream: Callable[[], Upstream],
        content: ContentStore,
        *,
        owner: str,
        adapter_for: Callable[[str], Upstream] | None = None,
        adapter_of: Callable[[Job], Upstream] | None = None,
        lease_ttl_s: float = 15.0,
        tick_s: float = 0.2,
        poll_min_s: float = 0.25,
        poll_max_s: float = 15.0,
        max_attempts: int = 3,
        retention_s: int = 7 * 86400,
        concurrency: int = 32,
        sweep_interval_s: float = 0.0,
    ) -> None:
        self.store = store
        self.upstream = upstream  # the current adapter, for new jobs
        self.adapter_for = adapter_for  # a job's adapter by the profile it was created under
        self.adapter_of = adapter_of  # or by the job itself (its upstream and profile): wins when set
        self.content = content
        self.owner = owner
        self.lease_ttl_s = lease_ttl_s
        self.tick_s = tick_s
        self.retention_s = retention_s
        self.runner_options = {"poll_min_s": poll_min_s, "poll_max_s": poll_max_s, "max_attempts": max_attempts}
        self.on_terminal: list[JobListener] = []
        self.on_abandoned: list[JobListener] = []  # told when on_terminal listeners are given up on
        self.sweeps = Sweeps(sweep_interval_s)  # status polls answered from one upstream listing per interval
        self._next_check: dict[str, float] = {}
        self._held: set[str] = set()
        self._leases: dict[str, Lease] = {}  # jobs with a step (or a first submit) running here
        self._inflight: set[str] = set()
        self._sem = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._beat: float | None = None  # monotonic time of the loop's last tick
        self.metrics = DrivenJobs()  # sora_gateway_jobs{state,tenant} for the jobs this replica holds
        self.queue: FairQueue | None = None  # when set, waiting segments go upstream in fair order

    def adapter(self, job: Job | None = None) -> Upstream:
        """The adapter that speaks ``job``'s dialect (a dialect switch does not re-route jobs in flight)."""
        if job is not None and self.adapter_of is not None:
            return self.adapter_of(job)
        if job is not None and self.adapter_for is not None:
            return self.adapter_for(job.upstream)
        return self.upstream()

    def runner(self, job: Job | None = None) -> SegmentRunner:
        return SegmentRunner(
            self.sweeps.wrap(self.adapter(job)),
            content=self.content,
            claims=self.store,
            **self.runner_options,  # type: ignore[arg-type]
        )

    async def submit_first(self, job: Job) -> None:
        """A new job's first create, sent while its client waits, unless the fair queue holds it back."""
        seg = job.segments[0]
        runner = self.runner(job)  # the job's own upstream (its route)
        if self.queue is None:
            await runner.submit(job, seg, self.save)
        elif await self.queue.may_submit(job):
            await self.queue.sent(job, seg, lambda: runner.submit(job, seg, self.save))

    async def start(self) -> None:
        self._stopping.clear()
        self._beat = time.monotonic()
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

    def status(self) -> dict[str, Any]:
        """For /readyz: is the loop alive and ticking?"""
        if self._task is None:
            return {"ok": False, "error": "not started"}
        age = time.monotonic() - (self._beat or 0.0)
        stale = max(LOOP_STALE_S, self.tick_s * 50)
        if self._task.done():
            return {"ok": False, "error": "the job driver loop has stopped", "last_tick_s_ago": round(age, 3)}
        ok = age < stale
        result: dict[str, Any] = {"ok": ok, "last_tick_s_ago": round(age, 3), "held": len(self._held)}
        if not ok:
            result["error"] = f"the job driver loop has not ticked for {age:.0f}s"
        return result

    @contextlib.asynccontextmanager
    async def holding(self, job_id: str) -> AsyncIterator[None]:
        """Keep this replica's loop (and every other replica) off a job while a request works on it."""
        self._inflight.add(job_id)
        try:
            started = time.monotonic()
            await self.store.acquire_lease(job_id, self.owner, self.lease_ttl_s)  # a new id: always ours
            self._held.add(job_id)
            async with self._heartbeat(job_id, started):
                yield
        except BaseException:
            self._held.discard(job_id)
            with contextlib.suppress(StoreError):
                await self.store.release_lease(job_id, self.owner)
            raise
        finally:
            self._inflight.discard(job_id)

    @contextlib.asynccontextmanager
    async def _heartbeat(self, job_id: str, acquired_at: float) -> AsyncIterator[Lease]:
        lease = Lease(self.lease_ttl_s, acquired_at)
        self._leases[job_id] = lease
        stop = asyncio.Event()
        renewer = asyncio.create_task(self._renew(job_id, lease, stop), name=f"lease-{job_id}")
        try:
            yield lease
        finally:
            # ``stop`` as well as the cancel: a cancel that lands in a store call can come back as a
            # StoreError (the Redis client's timeout/retry), which the loop would swallow and go on renewing
            # forever, holding this request and the job with it
            stop.set()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if self._leases.get(job_id) is lease:
                del self._leases[job_id]

    async def _renew(self, job_id: str, lease: Lease, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.lease_ttl_s / 3)
            started = time.monotonic()
            try:
                ours = await self.store.acquire_lease(job_id, self.owner, self.lease_ttl_s)
            except StoreError:  # try again; past the ttl the lease counts as lost (Lease.valid)
                continue
            if stop.is_set():
                return
            if not ours:
                lease.lost = True
                self._held.discard(job_id)
                log.warning("lease_lost", video_id=job_id, owner=self.owner)
                return
            lease.renewed_at = started

    def wake(self, job_id: str, due: float | None = None) -> None:
        """Look at a job on the next tick (a new job, a client action), or at ``due`` (wall clock) when
        the caller just stepped it itself (an accepted create: nothing to do before its first poll)."""
        if due is None:
            self._next_check[job_id] = 0.0
            return
        wait = min(max(0.0, due - time.time()), self.lease_ttl_s / 3)  # the lease is renewed by a step
        self._next_check[job_id] = time.monotonic() + wait

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._beat = time.monotonic()
            try:
                await self._tick()
            except StoreError:  # counted by the instrumented store
                await asyncio.sleep(1.0)
                continue
            except Exception:  # the loop must outlive any bug: log, pause, go on
                log.exception("job_driver_loop_error")
                await asyncio.sleep(1.0)
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick_s)

    async def _tick(self) -> None:
        ids = await self.store.active_ids()
        now = time.monotonic()
        known = set(ids)
        for stale in set(self._next_check) - known:
            self._next_check.pop(stale, None)
        self._held &= known | self._inflight  # finished, deleted or taken over elsewhere
        for job_id in ids:
            if job_id in self._inflight or self._next_check.get(job_id, 0.0) > now:
                continue
            self._inflight.add(job_id)
            task = asyncio.create_task(self._drive(job_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.metrics.keep_only(self._held & known)
        self.metrics.publish()

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
        started = time.monotonic()
        if not await self.store.acquire_lease(job_id, self.owner, self.lease_ttl_s):
            self._held.discard(job_id)
            self.metrics.forget(job_id)
            self._next_check[job_id] = time.monotonic() + self.lease_ttl_s / 3
            return
        self._held.add(job_id)
        async with self._heartbeat(job_id, started) as lease:
            job = await self.store.get(job_id)
            if job is None:
                await self._release(job_id)
                return
            retry_events: float | None = None
            if job.terminal:  # ended earlier, its listeners did not run (a crash, a failing listener)
                if job.requested.get(EVENTS_PENDING):
                    retry_events = await self._run_events(job)
            else:
                retry_events = await self.advance(job)
            if not lease.valid:  # another replica has (or may have) taken over: leave the job to it
                self._next_check[job_id] = time.monotonic() + self.lease_ttl_s / 3
                return
            if job.terminal:
                await self._release(job_id)
                if retry_events is not None:
                    self._next_check[job_id] = time.monotonic() + retry_events
                return
        self.metrics.track(job.id, str(job.status), job.tenant, job.created_at)
        due = min(
            [s.next_poll_at for s in job.segments if s.status not in ("completed", "failed")]
            + ([float(job.requested.get(FETCH_AFTER) or 0.0)] if all_segments_done(job) else []),
            default=0.0,
        )
        self._next_check[job_id] = time.monotonic() + max(0.0, min(due - time.time(), self.lease_ttl_s / 3))

    async def _release(self, job_id: str) -> None:
        self._held.discard(job_id)
        self.metrics.forget(job_id)
        self._next_check.pop(job_id, None)
        await self.store.release_lease(job_id, self.owner)

    async def save(self, job: Job) -> bool:
        """Write ``job`` if this replica still holds it and the record still exists; False otherwise."""
        job.updated_at = time.time()
        lease = self._leases.get(job.id)
        if lease is not None and not lease.valid:
            log.warning("job_save_skipped_lease_lost", video_id=job.id, owner=self.owner)
            return False
        if await self.store.update(job):
            return True
        await self._orphaned(job)  # a client deleted it while we were talking to the upstream
        return False

    async def _orphaned(self, job: Job) -> None:
        """Clean up after a job deleted mid-step: the files fetched since, the upstream jobs created since."""
        await self.content.remove(job.id)
        if job.cache in ("hit", "coalesced") or is_follower(job) or await upstream_shared(self.store, job.id):
            return  # another job's upstream video
        done: list[str] = job.requested.setdefault(ORPHANS_DELETED, [])
        adapter = self.adapter(job)
        for seg in job.segments:
            if seg.upstream_id and seg.upstream_id not in done:
                done.append(seg.upstream_id)
                with contextlib.suppress(UpstreamError, asyncio.TimeoutError):
                    await asyncio.wait_for(adapter.delete(seg.upstream_id), 10)
        log.info("job_deleted_while_driven", video_id=job.id, upstream_ids=len(done))

    async def _run_events(self, job: Job) -> float | None:
        """Run every terminal listener, each on its own; the delay before a retry if any failed."""
        failed = 0
        for listener in self.on_terminal:
            try:
                await listener(job)
            except Exception:
                failed += 1
                log.exception("job_listener_failed", video_id=job.id, listener=getattr(listener, "__qualname__", ""))
        attempts = int(job.requested.get(EVENTS_ATTEMPTS) or 0) + 1
        if failed and attempts < MAX_EVENT_ATTEMPTS:
            job.requested[EVENTS_ATTEMPTS] = attempts
            await self.save(job)
            return min(120.0, 2.0**attempts)
        if failed:
            log.error("job_listeners_abandoned", video_id=job.id, attempts=attempts)
            for abandoned in self.on_abandoned:  # last words: e.g. a story's scenes fail instead of waiting
                try:
                    await abandoned(job)
                except Exception:
                    log.exception("job_abandon_listener_failed", video_id=job.id)
        job.requested.pop(EVENTS_PENDING, None)
        job.requested.pop(EVENTS_ATTEMPTS, None)
        await self.save(job)
        return None

    async def advance(self, job: Job) -> float | None:
        """Drive ``job`` one step and persist what changed; returns when to retry its listeners, if due."""
        before = (job.status, job.progress)
        following = is_follower(job)  # a coalesced create mirrors its leader's record, never the upstream
        if following:
            await follow_leader(
                job, self.store, self.content, retention_s=self.retention_s, poll_s=self.runner_options["poll_min_s"]
            )
        elif self.queue is not None:  # the fair queue decides when a waiting segment may go upstream
            # the runner first: building it may move a never-sent job off a broken upstream (reroute), so
            # the queue then gates it in its new upstream's lane, not in the dead one's full lane
            runner = self.runner(job)
            await self.queue.step(job, lambda: runner.step(job, self.save))
        else:
            await self.runner(job).step(job, self.save)
        if (
            not following
            and not job.terminal
            and all_segments_done(job)
            and float(job.requested.get(FETCH_AFTER) or 0.0) <= time.time()
        ):
            await finalize_job(job, self.adapter(job), self.content, self.retention_s)
        aggregate(job)
        if job.terminal:
            job.requested[EVENTS_PENDING] = True  # in the same write as the end: listeners survive a crash
        if not await self.save(job):
            return None
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
            return await self._run_events(job)
        return None
