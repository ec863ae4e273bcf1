"""Upstream generations several jobs use, and throwing a job's own generations away.

A cache hit or a coalesced create has no generation of its own: it points at another job's upstream
video, and that job is marked ``cache:shared:<id>`` in the store's kv (by the cache stage). Whoever
throws a job's upstream work away (a client's delete, the cleanup after a job deleted mid-step)
deletes its generations only when :func:`owns_upstream_video` says so.
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway.core.models import Job
from gateway.jobs.follow import is_follower
from gateway.store.base import JobStore
from gateway.upstreams.base import Upstream, UpstreamError

SHARED = "cache:shared:"  # job id -> "1": other jobs use its upstream video; a delete leaves it upstream
DELETE_TIMEOUT_S = 10.0


async def mark_shared(store: JobStore, job_id: str, ttl_s: float) -> None:
    """Other jobs (a cache hit, a coalesced create) use ``job_id``'s upstream video from now on."""
    await store.kv_set(SHARED + job_id, "1", ttl_s=ttl_s)


async def upstream_shared(store: JobStore, job_id: str) -> bool:
    """Whether other jobs (cache hits, coalesced creates) use this job's upstream video."""
    return await store.kv_get(SHARED + job_id) is not None


async def owns_upstream_video(store: JobStore, job: Job) -> bool:
    """``job``'s upstream generations are its own and nobody else's: deleting them harms no other job."""
    if job.cache in ("hit", "coalesced") or is_follower(job):
        return False  # another job's upstream video
    return not await upstream_shared(store, job.id)


async def delete_generations(job: Job, adapter: Upstream, done: list[str] | None = None) -> list[str]:
    """Ask the upstream to delete ``job``'s generations (best effort, each bounded); ids in ``done`` are
    skipped and each one asked for is added to it. Returns ``done``."""
    done = [] if done is None else done
    for seg in job.segments:
        if seg.upstream_id and seg.upstream_id not in done:
            done.append(seg.upstream_id)
            with contextlib.suppress(UpstreamError, asyncio.TimeoutError):
                await asyncio.wait_for(adapter.delete(seg.upstream_id), DELETE_TIMEOUT_S)
    return done
