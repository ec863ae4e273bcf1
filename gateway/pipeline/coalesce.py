"""In-flight coalescing: identical creates that arrive while the first one runs share its upstream work.

The first create of a cache key claims ``cache:inflight:<key>`` with the store's atomic
``kv_set(nx=True)`` (one Redis ``SET NX`` across every replica) and becomes the leader. A later
identical create reads the leader's id and waits (briefly) until the leader's first upstream
create is decided, so that a leader the upstream refuses (moderation, a bad value) hands the same
refusal to every follower instead of leaving them with jobs that fail later. Then the create
becomes a follower (:mod:`gateway.jobs.follow`): its own id, no upstream generation, no polling.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time

from gateway.core.models import Job, SegStatus, Status
from gateway.errors import ApiError
from gateway.jobs.follow import FOLLOWS
from gateway.jobs.shared import mark_shared
from gateway.store.base import JobStore

INFLIGHT = "cache:inflight:"  # cache key -> leader job id
REFUSED = "cache:refused:"  # leader job id -> the upstream's refusal (JSON), for its followers
REFUSAL_TTL_S = 120.0


def decided(leader: Job) -> bool:
    """The leader's first upstream create has an answer (an upstream id, a retry scheduled, or an end)."""
    if leader.terminal or not leader.segments:
        return True
    first = leader.segments[0]
    return (
        bool(first.upstream_id)
        or first.next_poll_at > 0
        or first.status not in (SegStatus.PENDING, SegStatus.SUBMITTING)
    )


class InFlight:
    def __init__(
        self, store: JobStore, *, ttl_s: float, wait_s: float = 15.0, poll_s: float = 0.02, poll_max_s: float = 0.25
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s  # a follower's first look again; doubled each time up to poll_max_s
        self.poll_max_s = poll_max_s

    async def claim(self, key: str, job_id: str) -> bool:
        return await self.store.kv_set(INFLIGHT + key, job_id, ttl_s=self.ttl_s, nx=True)

    async def leader_id(self, key: str) -> str | None:
        return await self.store.kv_get(INFLIGHT + key)

    async def release(self, key: str, job_id: str) -> None:
        """Drop the claim if it is still ``job_id``'s (one atomic compare-and-delete)."""
        await self.store.kv_delete_if(INFLIGHT + key, job_id)

    async def refused(self, job_id: str, error: dict[str, object]) -> None:
        await self.store.kv_set(REFUSED + job_id, json.dumps(error), ttl_s=REFUSAL_TTL_S)

    async def share(self, job_id: str, ttl_s: float) -> None:
        await mark_shared(self.store, job_id, ttl_s)

    async def settle(self, key: str, leader_id: str) -> Job | None:
        """The leader once its first upstream create is decided; None when it is gone (claim again).

        Raises the leader's refusal when the upstream refused it.
        """
        return (await self.settle_joined(key, leader_id))[0]

    async def settle_joined(self, key: str, leader_id: str) -> tuple[Job | None, bool]:
        """:meth:`settle`, and whether the leader was still running when this create first saw it.

        A create that joined a running leader shares its fate, a failure too (N concurrent identical
        creates cost one generation); a leader already over when first seen (a claim its dying replica
        never released) is not followed.
        """
        deadline = time.monotonic() + self.wait_s
        interval = self.poll_s  # backoff: most leaders decide within ms, a slow upstream create takes seconds
        joined: bool | None = None
        while True:
            leader = await self.store.get(leader_id)
            late = time.monotonic() > deadline
            if joined is None and leader is not None:
                joined = not leader.terminal
            if leader is not None and (decided(leader) or late):
                return leader, bool(joined)
            if leader is None:
                refusal = await self.store.kv_get(REFUSED + leader_id)
                if refusal:
                    raise _as_error(json.loads(refusal))
                if await self.leader_id(key) != leader_id:
                    return None, False  # refused by a later stage, deleted, or finished: look again
                if late:  # a claim whose job never appeared (its replica died mid-admission)
                    await self.release(key, leader_id)
                    return None, False
            await asyncio.sleep(interval)
            interval = min(interval * 2, self.poll_max_s)


def make_follower(job: Job, leader: Job) -> Job:
    job.cache = "coalesced"
    job.requested[FOLLOWS] = leader.id
    job.requested["content_of"] = leader.id
    job.segments = copy.deepcopy(leader.segments)  # the upstream ids, should it have to replace the leader
    job.route, job.upstream = leader.route, leader.upstream  # ... and the upstream they belong to
    job.status, job.progress = leader.status, leader.progress
    if leader.status == Status.FAILED:  # joined while it ran, failed since: fails with it (never stepped)
        job.error, job.completed_at = copy.deepcopy(leader.error), leader.completed_at or int(time.time())
    job.poll_after_ms = leader.poll_after_ms
    job.cost_usd = 0.0  # the leader pays
    return job


def refusal_of(job: Job) -> dict[str, object] | None:
    """What the service recorded on a job the upstream refused (``job.error`` with a ``status``)."""
    error = job.error or {}
    return dict(error) if isinstance(error.get("status"), int) else None


def _as_error(data: dict[str, object]) -> ApiError:
    status = data.get("status")
    return ApiError(
        status if isinstance(status, int) else 400,
        str(data.get("message") or "The upstream refused this request."),
        type=str(data.get("type") or "invalid_request_error"),
        param=data.get("param") if isinstance(data.get("param"), str) else None,  # type: ignore[arg-type]
        code=data.get("code") if isinstance(data.get("code"), str) else None,  # type: ignore[arg-type]
    )
