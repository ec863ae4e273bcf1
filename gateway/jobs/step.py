"""One job's step on this replica: its upstream, the first create, a step, and the guarded save.

A step moves a job as far as it can now (:mod:`gateway.jobs.advance` for a job's own segments,
:mod:`gateway.jobs.follow` for a coalesced follower, :mod:`gateway.jobs.finalize` once every segment
is done), then saves it. Every save is conditional: nothing is written under a lost lease, and
:meth:`JobStore.update` does not bring back a job a client deleted meanwhile (the files fetched and
the generations created since are cleaned up instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway.content import ContentStore
from gateway.core.models import Job, SegStatus
from gateway.jobs.advance import SegmentRunner, aggregate
from gateway.jobs.fairqueue import FairQueue
from gateway.jobs.finalize import FETCH_AFTER, all_segments_done, finalize_job
from gateway.jobs.follow import follow_leader, is_follower
from gateway.jobs.leases import Leases
from gateway.jobs.listeners import TerminalListeners
from gateway.jobs.reconcile import CLAIM_TTL_S
from gateway.jobs.reroute import turned_away
from gateway.jobs.shared import delete_generations, owns_upstream_video
from gateway.jobs.sweep import Sweeps
from gateway.jobs.transitions import moved
from gateway.observability import log
from gateway.store.base import EVENTS_PENDING, JobStore
from gateway.upstreams.base import Upstream

MAX_MOVES = 3  # upstreams one first create may be moved through while its client waits
ORPHANS_DELETED = "orphans_deleted"  # Job.requested: upstream ids already deleted for a job deleted mid-step


class JobSteps:
    def __init__(
        self,
        store: JobStore,
        content: ContentStore,
        leases: Leases,
        listeners: TerminalListeners,
        *,
        upstream: Callable[[], Upstream],
        adapter_for: Callable[[str], Upstream] | None,
        adapter_of: Callable[[Job], Upstream] | None,
        sweeps: Sweeps,
        runner_options: dict[str, Any],
        retention_s: int,
    ) -> None:
        self.store = store
        self.content = content
        self.leases = leases
        self.listeners = listeners
        self.upstream = upstream  # the current adapter, for new jobs
        self.adapter_for = adapter_for  # a job's adapter by the profile it was created under
        self.adapter_of = adapter_of  # or by the job itself (its upstream and profile): wins when set
        self.sweeps = sweeps
        self.runner_options = runner_options
        self.retention_s = retention_s
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
            **self.runner_options,
        )

    async def prepare_first(self, job: Job) -> bool:
        """Before a new job is stored: mark its first segment ``submitting`` (in memory) when it goes upstream
        at once (the fair queue lets it), so the record is stored with the mark in the same write as the job
        itself (:meth:`gateway.store.base.JobStore.put_held`); True when marked (:meth:`submit_first` then
        sends without saving first)."""
        seg = job.segments[0]
        if seg.status != SegStatus.PENDING:
            return False
        runner = self.runner(job)  # building it may move the job (reroute): before it is stored
        if self.queue is not None and not await self.queue.may_submit(job):
            return False
        runner.mark_submitting(job, seg)
        return True

    async def submit_first(self, job: Job, *, marked: bool = False) -> tuple[str, str] | None:
        """A new job's first create, unless the fair queue holds it back. Raises the upstream's
        :class:`~gateway.upstreams.base.UpstreamError` when it refuses the create as the client's fault.

        Turned away for capacity (a 429: nothing was made), the job moves to the next upstream that can do it
        at once (:mod:`gateway.jobs.reroute`) and is sent there, while its client still waits."""
        for _ in range(MAX_MOVES + 1):
            due = await self._submit_first_here(job, marked)
            marked = False  # a move sends again as any send does
            if not self._moved(job):
                return due
        return None

    async def _submit_first_here(self, job: Job, marked: bool = False) -> tuple[str, str] | None:
        """``marked``: :meth:`prepare_first` marked it and the queue let it go, it was stored so: send now.
        Returns the upstream id's claim left for the next save (``claim_due`` of :meth:`save`)."""
        seg = job.segments[0]
        runner = self.runner(job)  # the job's own upstream (its route); building it may move the job
        if self.queue is None:
            await runner.submit(job, seg, self.save, marked=marked)
        elif marked or await self.queue.may_submit(job):
            await self.queue.sent(job, seg, lambda: runner.submit(job, seg, self.save, marked=marked))
        return runner.claim_due

    def _moved(self, job: Job) -> bool:
        """After a send that made nothing: move the job if its upstream takes no new jobs; due at once if it did."""
        if not turned_away(job):
            return False
        route = job.route
        self.adapter(job)  # the router's reroute hook runs here
        if job.route == route:
            return False
        for seg in job.segments:
            seg.next_poll_at = 0.0
        return True

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
        self._moved(job)  # turned away for capacity: to the next upstream, sent on the next tick
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
        moved(job, before)
        if job.terminal:
            return await self.listeners.run(job, self.save)
        return None

    async def save(self, job: Job, claim_due: tuple[str, str] | None = None) -> bool:
        """Write ``job`` if this replica still holds it and the record still exists; False otherwise.

        ``claim_due``: the ``(key, owner)`` claim of an upstream id the job just took, written in the same
        durable write (:meth:`~gateway.store.base.JobStore.update_claiming`). Not written when the lease is
        lost: the holder's reconciliation then finds the generation unclaimed and adopts it."""
        job.updated_at = time.time()
        if self.leases.lost(job.id):
            log.warning("job_save_skipped_lease_lost", video_id=job.id, owner=self.leases.owner)
            return False
        if claim_due is not None:
            updated, claimed = await self.store.update_claiming(job, *claim_due, CLAIM_TTL_S)
            if not claimed:  # a reconciling job took this id in the instant before: ours all the same (we made it)
                log.warning("segment_claim_taken", video_id=job.id, claim=claim_due[0])
            if updated:
                return True
        elif await self.store.update(job):
            return True
        await self._orphaned(job)  # a client deleted it while we were talking to the upstream
        return False

    async def _orphaned(self, job: Job) -> None:
        """Clean up after a job deleted mid-step: the files fetched since, the upstream jobs created since."""
        await self.content.remove(job.id)
        if not await owns_upstream_video(self.store, job):
            return  # another job's upstream video
        done = await delete_generations(job, self.adapter(job), job.requested.setdefault(ORPHANS_DELETED, []))
        log.info("job_deleted_while_driven", video_id=job.id, upstream_ids=len(done))
