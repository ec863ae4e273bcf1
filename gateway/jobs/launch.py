"""Launching an admitted job: the one hand-over from admission (the pipeline) to the jobs layer.

:meth:`Launcher.launch` stores the job and, from then on, the jobs layer alone moves it. For a job
with upstream work of its own it marks the first segment ``submitting`` when it goes upstream at once
(the fair queue may hold it back), then stores the record, the job's lease and the caller's values
(``with_record``: the Idempotency-Key's claim naming the job) in one durable write
(:meth:`~gateway.store.base.JobStore.put_held`: one SQLite transaction, one Redis MULTI; the segment's
idempotency key is derived from the job, so all of it is durable before any upstream call), tells the
caller (``on_stored``), sends the first create while the client waits, keeps the client's uploads where
every replica finds them, saves (the second write: the upstream's answer), and wakes the loop. Killed
between the two writes, the record says ``submitting``: the loop reconciles before any re-send
(:mod:`gateway.jobs.reconcile`).

* The upstream refuses the first create as the client's fault (moderation, a bad value): the record
  is removed and :class:`Refused` raised — nothing was made, the caller gives back what admission took.
* Anything fails before the record is stored: the record is removed (the put may have landed) and the
  error raised.
* Anything fails after: the job is the loop's (it re-sends with the same idempotency key); logged, and
  the job returned as it stands, so a charge never exists without its job.

Whether the first create is sent here or by the loop is this module's choice alone: answering
``queued`` with the job durable and leaving the send to the loop changes nothing for the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from gateway.content import ContentStore, ContentStoreError
from gateway.core.models import Job, SegStatus
from gateway.jobs.follow import is_follower
from gateway.jobs.leases import Take
from gateway.jobs.step import JobSteps
from gateway.jobs.transitions import accepted
from gateway.observability import log
from gateway.store.base import EVENTS_PENDING, JobStore, Values
from gateway.upstreams.base import UpstreamError

OnStored = Callable[[Job], Awaitable[None]]
WithRecord = Callable[[Job], Values]  # keyed values to store in the same write as a new job
Hold = Callable[[str, Take | None], AbstractAsyncContextManager[None]]
Wake = Callable[[str, float | None], None]


class Refused(Exception):
    """The upstream refused a job's first create as the client's fault; the job's record is removed."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


class Launcher:
    def __init__(self, store: JobStore, content: ContentStore, steps: JobSteps, *, hold: Hold, wake: Wake) -> None:
        self.store = store
        self.content = content
        self.steps = steps
        self.hold = hold  # keep the loop (and every other replica) off the job while it is launched
        self.wake = wake

    async def launch(
        self, job: Job, *, on_stored: OnStored | None = None, with_record: WithRecord | None = None
    ) -> Job:
        """Store an admitted job and start it; see the module docstring for what is raised when.

        ``with_record(job)``: keyed values stored in the same write as the job. ``on_stored`` is awaited
        once a job with upstream work of its own is durable, before any upstream call (an
        Idempotency-Key's claim then names it). A job answered at admission (a cache hit, a coalesced
        follower) has neither: it is only stored.
        """
        if job.terminal or is_follower(job):
            await self._store_answered(job)
            return job
        stored = settled = False

        async def take(owner: str, ttl_s: float) -> None:  # the lease, the record, the values: one write
            nonlocal stored
            await self.store.put_held(job, owner, ttl_s, values)
            stored = True

        try:
            marked = await self._prepare(job)
            values = with_record(job) if with_record is not None else ()
            async with self.hold(job.id, take):
                if on_stored is not None:
                    await on_stored(job)
                accepted(job)
                try:
                    due = await self.steps.submit_first(job, marked=marked)  # the fair queue may hold it back
                except UpstreamError as exc:  # a client fault: every other error the runner retries itself
                    await self.store.delete(job.id)
                    stored = False
                    raise Refused(exc) from None
                await self._share_uploads(job)  # accepted: no upload of a refused create is kept
                settled = await self.steps.save(job, due)  # with the upstream id's claim: the second write
        except Refused:
            raise
        except BaseException as exc:
            if not stored:
                with contextlib.suppress(Exception):  # the put may have landed before it failed
                    await self.store.delete(job.id)
                raise
            if not isinstance(exc, Exception):  # cancelled: the stored job is the loop's anyway
                raise
            log.warning("admission_left_to_driver", video_id=job.id, tenant=job.tenant, error=repr(exc)[:300])
        # saved as the upstream answered: the loop's first step is the first poll (no step now to save it again)
        self.wake(job.id, job.segments[0].next_poll_at if settled else None)
        return job

    async def _prepare(self, job: Job) -> bool:
        """Mark the first segment ``submitting`` before the job is stored (:meth:`JobSteps.prepare_first`);
        when that fails, the job is stored unmarked and its first send saves the mark itself."""
        try:
            return await self.steps.prepare_first(job)
        except Exception as exc:
            log.warning("submit_mark_failed", video_id=job.id, error=repr(exc)[:300])
            seg = job.segments[0]
            if seg.status == SegStatus.SUBMITTING and seg.attempts:  # undo a half-made mark: nothing was sent
                seg.attempts -= 1
                seg.status, seg.submitted_at = SegStatus.PENDING, None
            return False

    async def _store_answered(self, job: Job) -> None:
        if job.terminal:  # a cache hit: the loop runs the terminal listeners once
            job.requested[EVENTS_PENDING] = True
        try:
            await self.store.put(job)
        except BaseException:
            with contextlib.suppress(ContentStoreError):
                await self.content.remove(job.id)  # a cache hit's links to files nobody will ever ask for
            raise

    async def _share_uploads(self, job: Job) -> None:
        """Put the client's uploaded files where every replica can send them (a no-op on file://)."""
        for ref in (job.requested_reference(), job.requested_source_file()):
            if ref is not None and ref.path:
                try:
                    await self.content.keep_upload(ref)
                except ContentStoreError as exc:  # this replica still has the file and sends it now
                    log.warning("upload_not_shared", video_id=job.id, error=str(exc))
