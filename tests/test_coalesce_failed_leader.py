"""A create waiting on a running leader shares its failure; a leader already over is not followed.

Regression: a follower waiting for its leader's first answer (backing off up to 250 ms) could first look
again after the leader had failed; it then released the claim and led anew, a second paid generation for
N concurrent identical creates (end to end: tests/test_cache_e2e.py::test_followers_fail_when_their_leader_fails).
"""

from __future__ import annotations

import asyncio

from gateway.core.models import Job, Segment, SegStatus, Status
from gateway.pipeline.coalesce import InFlight, make_follower
from gateway.store.memory import MemoryStore

ERROR = {"code": "video_generation_failed", "message": "The generation failed."}


def leader_job() -> Job:
    job = Job(id="video_leader", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4")
    job.segments = [Segment(index=0, seconds=4, prompt="p")]  # pending: its create is not decided yet
    return job


def failed(job: Job) -> Job:
    job.status, job.error, job.completed_at = Status.FAILED, dict(ERROR), 1_800_000_000
    job.segments[0].status = SegStatus.FAILED
    return job


async def test_a_leader_failing_while_a_create_waits_is_followed_into_its_failure() -> None:
    store = MemoryStore()
    leader = leader_job()
    await store.put(leader)
    inflight = InFlight(store, ttl_s=60, wait_s=30.0)
    assert await inflight.claim("key", leader.id)
    waiting = asyncio.create_task(inflight.settle_joined("key", leader.id))
    await asyncio.sleep(0.1)  # the create is waiting on an undecided leader
    assert not waiting.done()
    await store.put(failed(leader_job()))
    settled, joined = await asyncio.wait_for(waiting, 30)
    assert settled is not None and settled.status == Status.FAILED and joined is True
    joining = Job(id="video_f", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4")
    follower = make_follower(joining, settled)
    assert follower.status == Status.FAILED and follower.error == ERROR and follower.completed_at
    assert follower.cost_usd == 0.0


async def test_a_leader_already_failed_when_first_seen_is_not_followed() -> None:
    store = MemoryStore()
    await store.put(failed(leader_job()))  # a claim its replica never released
    inflight = InFlight(store, ttl_s=60, wait_s=30.0)
    assert await inflight.claim("key", "video_leader")
    settled, joined = await inflight.settle_joined("key", "video_leader")
    assert settled is not None and settled.status == Status.FAILED and joined is False
