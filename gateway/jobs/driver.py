"""The job driver: one loop per replica that moves every accepted job to the end.

The loop looks at the store's active jobs every ``tick_s`` and steps each one that is due and
whose lease it can take (:mod:`gateway.jobs.leases`); a step (:mod:`gateway.jobs.step`) runs under
a heartbeat and saves nothing once its lease is lost, so a job is driven by one replica at a time
and another continues from the stored state when a replica dies. A job that ended has its terminal
listeners run (:mod:`gateway.jobs.listeners`), retried until they succeed or are given up on.

New jobs come in through :meth:`JobDriver.launch` (:mod:`gateway.jobs.launch`), the one hand-over
from admission; from there only this package submits, follows, reconciles and finalises.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway.content import ContentStore
from gateway.core.models import Job
from gateway.jobs.callbacks import UpstreamCallbacks
from gateway.jobs.fairqueue import FairQueue
from gateway.jobs.finalize import (  # noqa: F401 - FINALIZE_ERRORS, MAX_FINALIZE_ATTEMPTS re-exported
    FETCH_AFTER,
    FINALIZE_ERRORS,
    MAX_FINALIZE_ATTEMPTS,
    all_segments_done,
)
from gateway.jobs.launch import Launcher, OnStored, WithRecord
from gateway.jobs.leases import Lease, Leases, Take  # noqa: F401 - Lease re-exported
from gateway.jobs.listeners import MAX_EVENT_ATTEMPTS, JobListener, TerminalListeners  # noqa: F401 - re-exported
from gateway.jobs.step import JobSteps
from gateway.jobs.sweep import Sweeps
from gateway.observability import DrivenJobs, log
from gateway.store.base import EVENTS_PENDING, JobStore, StoreError
from gateway.upstreams.base import Upstream

LOOP_STALE_S = 30.0  # /readyz: the loop has not ticked for this long (or tick_s x 50, if longer)


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
        status_calls_per_s: float = 0.0,
        callback_base_url: str | None = None,
        callback_safety_poll_s: float = 60.0,
    ) -> None:
        self.store = store
        self.content = content
        self.owner = owner
        self.lease_ttl_s = lease_ttl_s
        self.tick_s = tick_s
        self.leases = Leases(store, owner=owner, ttl_s=lease_ttl_s)
        self.listeners = TerminalListeners()
        self.on_terminal = self.listeners.on_terminal
        self.on_abandoned = self.listeners.on_abandoned  # told when on_terminal listeners are given up on
        # status polls answered from one upstream listing per interval; per-job ones within a calls/s budget
        self.sweeps = Sweeps(sweep_interval_s, status_calls_per_s)
        self.steps = JobSteps(
            store,
            content,
            self.leases,
            self.listeners,
            upstream=upstream,
            adapter_for=adapter_for,
            adapter_of=adapter_of,
            sweeps=self.sweeps,
            runner_options={
                "poll_min_s": poll_min_s,
                "poll_max_s": poll_max_s,
                "max_attempts": max_attempts,
                "callback_base": callback_base_url,  # provider callbacks (gateway.jobs.callbacks) when set
                "safety_poll_s": callback_safety_poll_s,
                "hints": store,
            },
            retention_s=retention_s,
        )
        self.callbacks = UpstreamCallbacks(store, self.steps.adapter, self.wake)  # what providers POST back
        self.launcher = Launcher(store, content, self.steps, hold=self.holding, wake=self.wake)
        self._next_check: dict[str, float] = {}
        self._held = self.leases.held
        self._leases = self.leases.beating
        self._inflight: set[str] = set()  # jobs a step or a launch works on here now: the loop leaves them
        self._sem = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._beat: float | None = None  # monotonic time of the loop's last tick
        self.metrics = DrivenJobs()  # sora_gateway_jobs{state,tenant} for the jobs this replica holds

    @property
    def queue(self) -> FairQueue | None:
        """When set, waiting segments go upstream in fair order (:mod:`gateway.jobs.fairqueue`)."""
        return self.steps.queue

    @queue.setter
    def queue(self, queue: FairQueue | None) -> None:
        self.steps.queue = queue

    # -- what admission calls ----------------------------------------------------
    async def launch(
        self, job: Job, *, on_stored: OnStored | None = None, with_record: WithRecord | None = None
    ) -> Job:
        """Store an admitted job and start it (:meth:`gateway.jobs.launch.Launcher.launch`)."""
        return await self.launcher.launch(job, on_stored=on_stored, with_record=with_record)

    @contextlib.asynccontextmanager
    async def holding(self, job_id: str, take: Take | None = None) -> AsyncIterator[None]:
        """Keep this replica's loop (and every other replica) off a job while a request works on it
        (``take``: :meth:`gateway.jobs.leases.Leases.holding`)."""
        self._inflight.add(job_id)
        try:
            async with self.leases.holding(job_id, take):
                yield
        finally:
            self._inflight.discard(job_id)

    def wake(self, job_id: str, due: float | None = None) -> None:
        """Look at a job on the next tick (a new job, a client action), or at ``due`` (wall clock) when
        the caller just stepped it itself (an accepted create: nothing to do before its first poll)."""
        if due is None:
            self._next_check[job_id] = 0.0
            return
        wait = min(max(0.0, due - time.time()), self.lease_ttl_s / 3)  # the lease is renewed by a step
        self._next_check[job_id] = time.monotonic() + wait

    # -- one job ---------------------------------------------------------------
    async def advance(self, job: Job) -> float | None:
        """Drive ``job`` one step and persist what changed; returns when to retry its listeners, if due."""
        return await self.steps.advance(job)

    async def _run_events(self, job: Job) -> float | None:
        return await self.listeners.run(job, self.steps.save)

    # -- the loop --------------------------------------------------------------
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
        await self.leases.release_all()
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
        if not await self.leases.take(job_id):
            self.metrics.forget(job_id)
            self._next_check[job_id] = time.monotonic() + self.lease_ttl_s / 3
            return
        async with self.leases.heartbeat(job_id, started) as lease:
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
        self.metrics.forget(job_id)
        self._next_check.pop(job_id, None)
        await self.leases.release(job_id)
