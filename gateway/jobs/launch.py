"""Launching an admitted job: the one hand-over from admission (the pipeline) to the jobs layer.

:meth:`Launcher.launch` stores the job and, from then on, the jobs layer alone moves it. For a job
with upstream work of its own it takes the job's lease, stores the record (its segment's idempotency
key is derived from the job, so both are durable before any upstream call), tells the caller
(``on_stored``), sends the first create while the client waits unless the fair queue holds it back,
keeps the client's uploads where every replica finds them, saves, and wakes the loop.

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
from gateway.core.models import Job
from gateway.jobs.follow import is_follower
from gateway.jobs.step import JobSteps
from gateway.jobs.transitions import accepted
from gateway.observability import log
from gateway.store.base import EVENTS_PENDING, JobStore
from gateway.upstreams.base import UpstreamError

OnStored = Callable[[Job], Awaitable[None]]
Hold = Callable[[str], AbstractAsyncContextManager[None]]
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

    async def launch(self, job: Job, *, on_stored: OnStored | None = None) -> Job:
        """Store an admitted job and start it; see the module docstring for what is raised when.

        ``on_stored`` is awaited once a job with upstream work of its own is durable, before any
        upstream call (an Idempotency-Key's claim then names it). A job answered at admission (a
        cache hit, a coalesced follower) has none: it is only stored.
        """
        if job.terminal or is_follower(job):
            await self._store_answered(job)
            return job
        stored = settled = False
        try:
            async with self.hold(job.id):
                await self.store.put(job)
                stored = True
                if on_stored is not None:
                    await on_stored(job)
                accepted(job)
                try:
                    await self.steps.submit_first(job)  # the fair queue may hold it back
                except UpstreamError as exc:  # a client fault: every other error the runner retries itself
                    await self.store.delete(job.id)
                    stored = False
                    raise Refused(exc) from None
                await self._share_uploads(job)  # accepted: no upload of a refused create is kept
                settled = await self.steps.save(job)
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
