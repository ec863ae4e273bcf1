"""Coalesced followers: jobs that mirror another job's upstream work instead of doing their own.

A follower (``job.requested["follows"]`` = the leader's id) is driven like any job, but a step
reads the leader's record from the store instead of calling the upstream: it copies the
leader's segments (so remix and extend of a follower reach the same upstream video), its
progress and, at the end, its outcome; a completed leader's files are hard-linked into the
follower's content. No upstream call is ever made for a follower, whatever the number of them.

If the leader's record disappears before it finished (its client deleted it), one follower
takes its place: it keeps the copied segments and goes on polling the leader's upstream job
(which the delete left alone because it was shared); the other followers follow the new leader.
"""

from __future__ import annotations

import copy
import time

from gateway.content.base import ContentStore
from gateway.core.models import Job, SegStatus, Status
from gateway.observability import DELIVERED_SECONDS, log
from gateway.store.base import JobStore

FOLLOWS = "follows"  # key in Job.requested: the leader's gateway id
PROMOTED = "cache:promoted:"  # kv: dead leader id -> the follower that took its place


def is_follower(job: Job) -> bool:
    return bool(job.requested.get(FOLLOWS))


async def follow_leader(job: Job, store: JobStore, content: ContentStore, *, retention_s: int, poll_s: float) -> None:
    """One step of a follower: mirror the leader's state (never the upstream)."""
    leader_id = str(job.requested[FOLLOWS])
    leader = await store.get(leader_id)
    if leader is None:
        await _replace_leader(job, store, leader_id, retention_s)
        return
    now = time.time()
    interval = max(poll_s, leader.poll_after_ms / 1000)
    job.segments = copy.deepcopy(leader.segments)
    for seg in job.segments:
        seg.next_poll_at = max(seg.next_poll_at, now) + interval
    job.poll_after_ms = leader.poll_after_ms
    if leader.status == Status.COMPLETED:
        linked = await content.link(leader.id, job.id)  # empty if evicted already: downloads fall back to the upstream
        job.content = {**{v: "" for v, path in leader.content.items() if not path}, **linked}
        job.status, job.progress, job.error = Status.COMPLETED, 100, None
        job.completed_at = int(now)
        job.expires_at = int(now) + retention_s
        DELIVERED_SECONDS.labels(job.tenant, job.model).inc(float(job.seconds))
    elif leader.status == Status.FAILED:
        job.status, job.error, job.completed_at = Status.FAILED, leader.error, int(now)
    elif job.segments and all(s.status == SegStatus.COMPLETED for s in job.segments):
        job.segments[-1].status = SegStatus.IN_PROGRESS  # the leader is fetching its media: look again later
        job.segments[-1].progress = 99


async def _replace_leader(job: Job, store: JobStore, leader_id: str, retention_s: int) -> None:
    taken = await store.kv_set(PROMOTED + leader_id, job.id, ttl_s=float(retention_s), nx=True)
    if taken:
        job.requested.pop(FOLLOWS, None)
        job.requested.pop("content_of", None)
        log.info("follower_promoted", video_id=job.id, former_leader=leader_id)
        return
    successor = await store.kv_get(PROMOTED + leader_id)
    if successor and successor != job.id:
        job.requested[FOLLOWS] = successor
        job.requested["content_of"] = successor
