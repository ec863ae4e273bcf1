"""One step of a job's state machine: submit, poll, retry its segments.

Segments run in order. A segment is marked ``submitting`` (and saved) before
its create is sent, with an idempotency key derived from the job, so a replica
that dies mid-call is followed by one that re-sends the same key and adopts the
same upstream job instead of paying for a second.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

from gateway.content import LocalContentStore
from gateway.core.models import Job, Segment, SegStatus, Status
from gateway.jobs.continuity import drop_references, needs_reference, prepare_reference, segment_reference
from gateway.observability import log
from gateway.upstreams.base import GenerationSpec, Upstream, UpstreamError, UpstreamVideo

Save = Callable[[Job], Awaitable[bool]]  # False: not written (the job was deleted, or its lease lost)
NO_RETRY_CODES = {"moderation_blocked", "content_policy_violation", "invalid_value", "invalid_request_error"}
LOST_POLLS = "lost_polls"  # Job.requested: segment index -> polls in a row the upstream answered 404
LOST_POLL_LIMIT = 3  # a transient 404 (a replica behind a balancer, a dialect switch) is not a lost job


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
        content: LocalContentStore | None = None,
    ) -> None:
        self.upstream = upstream
        self.content = content  # where chained segments get their continuity frames (none: prompts only)
        self.poll_min_s = poll_min_s
        self.poll_max_s = poll_max_s
        self.max_attempts = max_attempts

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
        )

    async def submit(self, job: Job, seg: Segment, save: Save) -> None:
        """Send a segment's create. Raises :class:`UpstreamError` for client faults (the caller fails the job)."""
        if seg.status == SegStatus.PENDING:
            seg.attempts += 1
            seg.status = SegStatus.SUBMITTING
            seg.submitted_at = time.time()
            if not await save(job):  # the key is on disk before the money is spent
                return  # deleted meanwhile, or no longer ours: send nothing
        try:
            video = await self.upstream.create(self.spec(job, seg))
        except UpstreamError as exc:
            if exc.client_fault:
                raise
            seg.next_poll_at = time.time() + backoff(seg.attempts, exc.retry_after, self.poll_max_s)
            log.warning("segment_submit_retry", video_id=job.id, segment=seg.index, status=exc.status, code=exc.code)
            return
        seg.upstream_id = video.id
        self.apply(job, seg, video)

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

    async def poll(self, job: Job, seg: Segment) -> None:
        try:
            video = await self.upstream.retrieve(str(seg.upstream_id))
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
            if seg.next_poll_at > now:
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
                await self.poll(job, seg)
            if seg.status != SegStatus.COMPLETED:
                return


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
