"""Reconciliation: a create whose answer was lost is found upstream, not paid for twice.

The simulator runs with ``--ignore-idempotency`` (like the real OpenAI /videos API, which does not
document ``Idempotency-Key``), so a blind re-send would start a second generation.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import httpx

from gateway.core.models import Job, Segment, SegStatus
from gateway.jobs.advance import SegmentRunner
from gateway.store.memory import MemoryStore
from gateway.upstreams.base import GenerationSpec, UpstreamVideo
from tests.conftest import sim_stats, start_gateway, store_url
from tests.procs import start_simulator, wait_for


def generations(sim: object) -> int:
    return int(sim_stats(sim)["generations"])  # type: ignore[arg-type]


def test_killed_gateway_adopts_the_lost_create(tmp_path: Path) -> None:
    sim = start_simulator("--ignore-idempotency", "--faults", "late=1.0,slow_s=3")
    store = store_url("sqlite", tmp_path)
    gw = start_gateway(sim, tmp_path / "gw", store)
    gw2 = None
    try:
        before = generations(sim)
        outcome: list[object] = []

        def create() -> None:
            try:
                outcome.append(gw.client().videos.create(prompt="a lighthouse in a storm", seconds="4"))
            except Exception as exc:  # the gateway dies under the request
                outcome.append(exc)

        thread = threading.Thread(target=create, daemon=True)
        thread.start()
        wait_for(lambda: generations(sim) == before + 1, "the create to reach the simulator")
        gw.proc.kill()  # the upstream made the video; its answer (the upstream id) is lost with the gateway
        thread.join(10)
        assert outcome and isinstance(outcome[0], Exception), outcome
        assert httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10).status_code == 200

        gw2 = start_gateway(sim, tmp_path / "gw", store, port=gw.proc.port)
        client = gw2.client()
        jobs = client.videos.list(limit=10).data
        assert len(jobs) == 1, jobs
        done = client.videos.poll(jobs[0].id, poll_interval_ms=100)
        assert done.status == "completed", done
        assert len(client.videos.download_content(done.id).content) > 0
        assert generations(sim) - before == 1, "the lost create was sent again and generated twice upstream"
        assert "segment_adopted" in gw2.proc.logs()
    finally:
        if gw2 is not None:
            gw2.proc.stop()
        gw.proc.kill()
        sim.stop()


# --- unit level: the claim keeps two jobs with the same prompt apart -------------------------------


class ListingUpstream:
    """Has made ``made`` generations already (their answers lost); lists them; counts creates."""

    name = "fake"
    base_url = "http://fake"

    def __init__(self, made: list[UpstreamVideo]) -> None:
        self.made = made
        self.creates: list[GenerationSpec] = []

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        await asyncio.sleep(0)  # let the other job's reconciliation interleave
        return [v for v in self.made if (v.created_at or 0) >= since]

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self.creates.append(spec)
        return UpstreamVideo(id=f"new_{uuid.uuid4().hex[:8]}", status="queued")


PROMPT = "two identical prompts"


def video(vid: str, *, size: str = "1280x720", created_at: float | None = None) -> UpstreamVideo:
    created = time.time() if created_at is None else created_at
    return UpstreamVideo(
        id=vid, status="in_progress", model="sora-2", size=size, seconds="4", prompt=PROMPT, created_at=created
    )


def submitting_job() -> Job:
    seg = Segment(index=0, seconds=4, prompt=PROMPT, status=SegStatus.SUBMITTING, attempts=1)
    seg.submitted_at = time.time() - 1
    return Job(
        id=f"video_{uuid.uuid4().hex[:8]}",
        tenant="acme",
        model="sora-2",
        prompt=PROMPT,
        size="1280x720",
        seconds="4",
        segments=[seg],
    )


async def resume(upstream: ListingUpstream, store: MemoryStore, count: int = 2) -> list[Job]:
    """``count`` jobs found in ``submitting`` (a replica died mid-create) resumed at the same time."""
    jobs = [submitting_job() for _ in range(count)]

    async def save(job: Job) -> bool:
        return True

    runner = SegmentRunner(upstream, poll_min_s=0.0, poll_max_s=0.0, max_attempts=3, claims=store)  # type: ignore[arg-type]
    await asyncio.gather(*(runner.submit(job, job.segments[0], save) for job in jobs))
    return jobs


def test_identical_prompts_adopt_different_videos() -> None:
    upstream = ListingUpstream([video("vid_a"), video("vid_b")])
    jobs = asyncio.run(resume(upstream, MemoryStore()))
    assert sorted(str(j.segments[0].upstream_id) for j in jobs) == ["vid_a", "vid_b"]
    assert upstream.creates == []


def test_one_lost_video_two_jobs_one_adopts_one_resends() -> None:
    upstream = ListingUpstream([video("vid_a")])
    jobs = asyncio.run(resume(upstream, MemoryStore()))
    ids = sorted(str(j.segments[0].upstream_id) for j in jobs)
    assert ids[1] == "vid_a" and ids[0].startswith("new_"), ids
    assert len(upstream.creates) == 1


def test_mismatches_and_claimed_videos_are_not_adopted() -> None:
    store = MemoryStore()
    old = time.time() - 3600
    upstream = ListingUpstream([video("vid_size", size="720x1280"), video("vid_old", created_at=old), video("vid_x")])
    asyncio.run(store.kv_set("upstream-claim:fake:vid_x", "video_other:0", nx=True))  # another job's create
    jobs = asyncio.run(resume(upstream, store, count=1))
    assert str(jobs[0].segments[0].upstream_id).startswith("new_")
    assert len(upstream.creates) == 1
    # the fresh create claimed its id, so a later reconciliation elsewhere cannot take it
    assert asyncio.run(store.kv_get(f"upstream-claim:fake:{jobs[0].segments[0].upstream_id}")) == f"{jobs[0].id}:0"
