"""One step of a job's state machine: submit, poll, retry its segments.

Segments run in order. A segment is marked ``submitting`` (and saved) before
its create is sent, with an idempotency key derived from the job, so a replica
that dies mid-call is followed by one that re-sends the same key and adopts the
same upstream job instead of paying for a second.

An upstream may ignore that key (the OpenAI Videos API does not document it), so
before re-sending any segment (create, remix, extension, edit) whose outcome is
unknown the runner reconciles (:mod:`gateway.jobs.reconcile`): it lists the
upstream's recent generations and adopts the one that segment made. If the
upstream cannot be asked, the segment waits (a transient error) or the job fails
with ``upstream_outcome_unknown`` (the listing is refused): never a blind re-send.
Every upstream id a segment takes is claimed in the store (``kv_set(nx=True)``),
so two jobs with the same prompt never adopt the same generation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.content import ContentStore, ContentStoreError
from gateway.core.models import Job, Reference, Segment, SegStatus, Status
from gateway.jobs import callbacks
from gateway.jobs.budget import StatusDeferred
from gateway.jobs.continuity import (
    drop_references,
    needs_reference,
    prepare_reference,
    segment_reference,
    stored_reference,
)
from gateway.jobs.reconcile import Claims, claim, claim_key, find_lost
from gateway.observability import log
from gateway.store.base import JobStore
from gateway.upstreams.base import GenerationSpec, Upstream, UpstreamError, UpstreamVideo

Save = Callable[[Job], Awaitable[bool]]  # False: not written (the job was deleted, or its lease lost)
# failures a retry would only pay for again: a safety refusal, a bad request, a task someone cancelled upstream
NO_RETRY_CODES = {
    "moderation_blocked",
    "content_policy_violation",
    "invalid_value",
    "invalid_request_error",
    "cancelled",
}
LOST_POLLS = "lost_polls"  # Job.requested: segment index -> polls in a row the upstream answered 404
LOST_POLL_LIMIT = 3  # a transient 404 (a replica behind a balancer, a dialect switch) is not a lost job
NOT_SENT = "submit_not_sent"  # Job.requested: segment index -> the last send surely created nothing (429)
NOTHING_SENT_CODES = {"connect_failed"}  # an UpstreamError code meaning the request never left (refused connect)
# answers that refuse a create before any work: rate limited / at capacity, the gateway's key refused
NOTHING_SENT_STATUSES = {401, 403, 429}


def idempotency_key(job: Job, seg: Segment) -> str:
    return f"{job.id}-{seg.index}-{seg.attempts}"


def backoff(attempt: int, retry_after: float | None, cap: float) -> float:
    if retry_after:
        return min(max(retry_after, 0.05), cap)
    return min(cap, 0.5 * (2 ** min(attempt, 8))) * (0.75 + random.random() / 2)


class SegmentRunner:
    def __init__(
        self,
        upstream: Upstream,
        *,
        poll_min_s: float,
        poll_max_s: float,
        max_attempts: int,
        content: ContentStore | None = None,
        claims: Claims | None = None,
        callback_base: str | None = None,
        safety_poll_s: float = 60.0,
        hints: JobStore | None = None,
    ) -> None:
        self.upstream = upstream
        # provider callbacks (gateway.jobs.callbacks): the gateway's URL on each create, polls only as a safety net
        self.callback_base = callback_base if callbacks.callbacks_on(upstream, callback_base) else None
        self.safety_poll_s = safety_poll_s
        self.hints = hints
        self.claims = claims  # none: no reconciliation (a re-send relies on the idempotency key alone)
        self.content = content  # where chained segments get their continuity frames (none: prompts only)
        self.poll_min_s = poll_min_s
        self.poll_max_s = poll_max_s
        self.max_attempts = max_attempts
        self.claim_due: tuple[str, str] | None = None  # (claim key, owner) a marked send left to its save

    def spec(self, job: Job, seg: Segment) -> GenerationSpec:
        source = seg.source_upstream_id
        if seg.kind == "extend" and source is None and seg.index > 0:
            source = job.segments[seg.index - 1].upstream_id
        return GenerationSpec(
            kind=seg.kind,
            prompt=seg.prompt,
            model=str(job.requested.get("upstream_model") or job.model),
            size=str(job.requested.get("upstream_size") or job.size),
            seconds=seg.seconds,
            source_id=source,
            reference=segment_reference(job, seg),
            idempotency_key=idempotency_key(job, seg),
            source_file=job.requested_source_file() if seg.index == 0 and source is None else None,
            callback_url=callbacks.callback_url(self.callback_base, job, seg) if self.callback_base else None,
            **native_fields(job, seg),
        )

    def mark_submitting(self, job: Job, seg: Segment) -> None:
        """A pending segment about to be sent: its attempt (so its idempotency key) and send time, in memory;
        the caller makes it durable before the create goes (``save`` in :meth:`submit`, or a new job's store)."""
        if self.callback_base:
            callbacks.ensure_token(job)  # saved with the mark, before the create names it
        seg.attempts += 1
        seg.status = SegStatus.SUBMITTING
        seg.submitted_at = time.time()

    async def submit(self, job: Job, seg: Segment, save: Save, *, marked: bool = False) -> None:
        """Send a segment's create. Raises :class:`UpstreamError` for client faults (the caller fails the job).

        ``marked``: :meth:`mark_submitting` ran and the mark is durable already, nothing sent since (a new job
        stored with it): sent at once, neither saved again nor reconciled; the upstream id it takes is left in
        :attr:`claim_due` for the caller to claim with its next save."""
        resend = seg.status == SegStatus.SUBMITTING and not marked
        if seg.status == SegStatus.PENDING:
            self.mark_submitting(job, seg)
            if not await save(job):  # the key is on disk before the money is spent
                return  # deleted meanwhile, or no longer ours: send nothing
        spec = self.spec(job, seg)
        if not await self._local_files(job, seg, spec):
            if not resend:
                _not_sent(job, seg, True)  # nothing went upstream: the next try need not reconcile
            return
        if resend and self._outcome_unknown(job, seg):  # an earlier send may have reached the upstream
            try:
                adopted = await self.reconcile(job, seg, spec)
            except UpstreamError as exc:
                if exc.retryable:  # cannot tell yet whether it was created: never re-send blind
                    seg.next_poll_at = time.time() + backoff(seg.attempts, exc.retry_after, self.poll_max_s)
                    log.warning("segment_reconcile_retry", video_id=job.id, segment=seg.index, status=exc.status)
                    return
                # the upstream will not list its generations: a re-send might pay a second time
                log.error("segment_reconcile_refused", video_id=job.id, segment=seg.index, status=exc.status)
                seg.status = SegStatus.FAILED
                fail_job(
                    job,
                    {
                        "code": "upstream_outcome_unknown",
                        "message": "An earlier request for this video may have reached the upstream, and the "
                        f"upstream refused to list its videos ({exc.status}); it is not sent again blind.",
                    },
                )
                return
            if adopted is not None:
                log.info("segment_adopted", video_id=job.id, segment=seg.index, upstream_id=adopted.id)
                seg.upstream_id = adopted.id
                self.apply(job, seg, adopted)
                return
        if _not_sent(job, seg, False) and not await save(job):
            # the "nothing was sent" mark is cleared on disk before this send: killed during it, the restarted
            # driver reconciles with the upstream instead of re-sending blind (a 429, then a crash: paid twice)
            return  # deleted meanwhile, or no longer ours: send nothing
        try:
            video = await self.upstream.create(spec)
        except UpstreamError as exc:
            if exc.client_fault:
                raise
            # rate limited or never connected: surely nothing was created
            _not_sent(job, seg, exc.status in NOTHING_SENT_STATUSES or exc.code in NOTHING_SENT_CODES)
            seg.next_poll_at = time.time() + backoff(seg.attempts, exc.retry_after, self.poll_max_s)
            log.warning("segment_submit_retry", video_id=job.id, segment=seg.index, status=exc.status, code=exc.code)
            return
        if marked and self.claims is not None:  # claimed with the save that follows: one write (JobSteps.save)
            self.claim_due = (claim_key(self.upstream, video.id), f"{job.id}:{seg.index}")
        elif not await claim(self.claims, self.upstream, f"{job.id}:{seg.index}", video.id):
            # a reconciling job took this id in the instant before our claim: the generation is ours (we
            # created it), so keep it; the other job polls it too (a duplicate delivery, no extra charge)
            log.warning("segment_claim_taken", video_id=job.id, segment=seg.index, upstream_id=video.id)
        seg.upstream_id = video.id
        self.apply(job, seg, video)

    async def _local_files(self, job: Job, seg: Segment, spec: GenerationSpec) -> bool:
        """Uploaded files on this replica's disk (fetched from the content store); False: try later."""
        if self.content is None:
            return True
        try:
            if spec.reference is None and needs_reference(job, seg):  # its frame was made on another replica
                frame = stored_reference(job, seg)
                local = await self.content.local_upload(frame) if frame is not None else None
                spec.reference = local if local is not None and Path(str(local.path)).exists() else None
            elif spec.reference is not None and spec.reference.path:
                spec.reference = await self.content.local_upload(spec.reference)
            if spec.source_file is not None and spec.source_file.path:
                spec.source_file = await self.content.local_upload(spec.source_file)
        except ContentStoreError as exc:
            seg.next_poll_at = time.time() + backoff(seg.attempts + 1, None, self.poll_max_s)
            log.warning("segment_upload_unavailable", video_id=job.id, segment=seg.index, error=str(exc))
            return False
        return True

    def _outcome_unknown(self, job: Job, seg: Segment) -> bool:
        return (
            self.claims is not None
            and seg.submitted_at is not None
            and not job.requested.get(NOT_SENT, {}).get(str(seg.index))
        )

    async def reconcile(self, job: Job, seg: Segment, spec: GenerationSpec) -> UpstreamVideo | None:
        """An upstream generation this segment's lost call made (claimed for it), or ``None``."""
        submitted = float(seg.submitted_at or time.time())
        return await find_lost(self.upstream, self.claims, f"{job.id}:{seg.index}", spec, submitted)

    def apply(self, job: Job, seg: Segment, video: UpstreamVideo) -> None:
        seg.status = SegStatus(video.status) if video.status in SegStatus.__members__.values() else SegStatus.QUEUED
        seg.progress = 100 if video.status == "completed" else max(seg.progress, min(video.progress, 99))
        seg.expires_at = video.expires_at
        seg.error = video.error
        hint = (video.poll_after_ms or 0) / 1000
        age = time.time() - (seg.submitted_at or time.time())
        by_age = 1.0 if age < 30 else 2.0 if age < 120 else 5.0
        interval = min(max(hint or by_age, self.poll_min_s), self.poll_max_s)
        seg.next_poll_at = time.time() + interval
        job.poll_after_ms = int(interval * 1000)
        if self._called_back(job) and seg.status in (SegStatus.QUEUED, SegStatus.IN_PROGRESS):
            seg.next_poll_at = time.time() + callbacks.safety_wait(self.safety_poll_s)  # the callbacks' safety net

    def _called_back(self, job: Job) -> bool:
        return self.callback_base is not None and callbacks.followed_by_callbacks(job)

    async def _hinted(self, job: Job, seg: Segment) -> bool:
        """A provider callback waiting for ``seg``: ``end`` is confirmed now with one status call straight to
        the upstream (True); ``alive`` puts the safety poll a full interval off and moves the segment forward
        by what the callback said (queued -> in_progress, progress) (False)."""
        if self.hints is None or not self._called_back(job):
            return False
        if seg.status not in (SegStatus.QUEUED, SegStatus.IN_PROGRESS):
            return False
        hint = await callbacks.take_hint(self.hints, job, seg)
        if hint == callbacks.ALIVE:
            seg.next_poll_at = max(seg.next_poll_at, time.time() + callbacks.safety_wait(self.safety_poll_s))
            # what the callback said reaches the client now (aggregated and saved by this step), no status call
            if callbacks.apply_state(seg, await callbacks.take_state(self.hints, job, seg)):
                log.info("segment_moved_by_callback", video_id=job.id, segment=seg.index, status=str(seg.status))
        return hint == callbacks.END

    async def poll(self, job: Job, seg: Segment, *, direct: bool = False) -> None:
        """One status call; ``direct``: to the upstream itself, never answered from a status sweep's listing."""
        upstream = getattr(self.upstream, "adapter", self.upstream) if direct else self.upstream
        try:
            video = await upstream.retrieve(str(seg.upstream_id))
        except StatusDeferred as later:  # the upstream's status budget put this call in a later slot
            seg.next_poll_at = later.at
            return
        except UpstreamError as exc:
            if exc.status == 404:
                misses = job.requested.setdefault(LOST_POLLS, {})
                misses[str(seg.index)] = misses.get(str(seg.index), 0) + 1
                if misses[str(seg.index)] < LOST_POLL_LIMIT:
                    seg.next_poll_at = time.time() + backoff(misses[str(seg.index)], None, self.poll_max_s)
                    return
                forget_lost_polls(job, seg)
                self.retry_or_fail(
                    job, seg, {"code": "upstream_lost", "message": "The upstream no longer has this job."}
                )
                return
            seg.next_poll_at = time.time() + backoff(2, exc.retry_after, self.poll_max_s)
            return
        forget_lost_polls(job, seg)
        self.apply(job, seg, video)
        if direct and seg.status in (SegStatus.QUEUED, SegStatus.IN_PROGRESS):  # the upstream lags its callback
            seg.next_poll_at = time.time() + self.poll_max_s
        if seg.status == SegStatus.FAILED:
            self.retry_or_fail(job, seg, video.error or {"code": "video_generation_failed", "message": "failed"})

    def retry_or_fail(self, job: Job, seg: Segment, error: dict[str, object]) -> None:
        code = str(error.get("code") or "")
        if seg.attempts < self.max_attempts and code not in NO_RETRY_CODES:
            log.info("segment_retry", video_id=job.id, segment=seg.index, attempt=seg.attempts, code=code)
            seg.status, seg.upstream_id, seg.progress, seg.error = SegStatus.PENDING, None, 0, None
            seg.next_poll_at = time.time() + backoff(seg.attempts, None, self.poll_max_s)
            return
        seg.status, seg.error = SegStatus.FAILED, dict(error)
        fail_job(job, {"code": code or "video_generation_failed", "message": str(error.get("message") or "failed")})

    async def step(self, job: Job, save: Save) -> None:
        """Move the first unfinished segment forward if it is due."""
        now = time.time()
        for seg in job.segments:
            if seg.status == SegStatus.COMPLETED:
                continue
            hinted = await self._hinted(job, seg)
            if seg.next_poll_at > now and not hinted:
                return
            if seg.status in (SegStatus.PENDING, SegStatus.SUBMITTING):
                if seg.status == SegStatus.PENDING and self.content and needs_reference(job, seg):
                    try:
                        await prepare_reference(job, seg, self.upstream, self.content)
                    except UpstreamError as exc:  # only retryable ones reach here: fetch the frame later
                        seg.next_poll_at = time.time() + backoff(2, exc.retry_after, self.poll_max_s)
                        return
                try:
                    await self.submit(job, seg, save)
                except UpstreamError as exc:
                    seg.status = SegStatus.FAILED
                    fail_job(job, {"code": exc.code or "upstream_rejected", "message": exc.message})
                    return
            elif seg.status in (SegStatus.QUEUED, SegStatus.IN_PROGRESS):
                await self.poll(job, seg, direct=hinted)
            if seg.status == SegStatus.FAILED and not job.terminal:
                # the create (or an adopted generation) answered "failed" at once: retry or fail the job now,
                # as a poll would; left alone, the segment would never be looked at again
                self.retry_or_fail(job, seg, seg.error or {"code": "video_generation_failed", "message": "failed"})
            if seg.status != SegStatus.COMPLETED:
                return


def native_fields(job: Job, seg: Segment) -> dict[str, Any]:
    """What the plan left for the provider's own fields (``Plan.extras["native"]``), as GenerationSpec takes it:
    a last frame goes with the video's last segment only (an earlier one ends where the next begins)."""
    native = job.requested.get("native") or {}
    fields: dict[str, Any] = {}
    if native.get("negative_prompt"):
        fields["negative_prompt"] = str(native["negative_prompt"])
    if native.get("seed") is not None:
        fields["seed"] = int(native["seed"])
    if isinstance(native.get("last_frame"), dict) and seg.index == len(job.segments) - 1:
        fields["last_frame"] = Reference(**native["last_frame"])
    if native.get("reference_images"):
        fields["reference_images"] = tuple(Reference(**ref) for ref in native["reference_images"])
    if native.get("enhance_prompt"):
        fields["enhance_prompt"] = True
    return fields


def _not_sent(job: Job, seg: Segment, value: bool) -> bool:
    """Set or clear a segment's "nothing was sent" mark; True when a mark was cleared (the caller saves it)."""
    marks = job.requested.get(NOT_SENT)
    if value:
        job.requested.setdefault(NOT_SENT, {})[str(seg.index)] = True
        return False
    if not marks or marks.pop(str(seg.index), None) is None:
        return False
    if not marks:
        del job.requested[NOT_SENT]
    return True


def forget_lost_polls(job: Job, seg: Segment) -> None:
    misses = job.requested.get(LOST_POLLS)
    if misses and misses.pop(str(seg.index), None) is not None and not misses:
        del job.requested[LOST_POLLS]


def fail_job(job: Job, error: dict[str, str]) -> None:
    job.status = Status.FAILED
    job.error = error
    job.completed_at = int(time.time())
    drop_references(job)


def aggregate(job: Job) -> None:
    """The client-facing status and progress of a job from its segments (not yet finalised)."""
    if job.terminal:
        return
    total = sum(s.seconds for s in job.segments) or 1
    done = sum(s.seconds * s.progress for s in job.segments) / total
    job.progress = min(int(done), 99)
    started = any(s.status not in (SegStatus.PENDING, SegStatus.SUBMITTING, SegStatus.QUEUED) for s in job.segments)
    job.status = Status.IN_PROGRESS if started else Status.QUEUED
