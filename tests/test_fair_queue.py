"""The fair queue: a busy team cannot starve a small one when the upstream limits concurrent jobs.

End to end: a simulator limited to 3 concurrent generations, team acme submits 40 videos and then
team globex 4; the gateway learns the limit from the upstream's 429s, nothing fails, every video is
generated once, and globex's videos finish within the first half of all completions. Plus the
ordering rule on its own.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from gateway.core.models import Job, Segment, SegStatus
from gateway.jobs.fairqueue import FairQueue, fair_order, running, waiting_segment
from gateway.store.memory import MemoryStore
from tests.conftest import sim_stats, start_gateway, store_url
from tests.procs import start_simulator, wait_for


def _job(job_id: str, tenant: str, status: SegStatus) -> Job:
    return Job(job_id, tenant, "sora-2", "p", "720x1280", "4", segments=[Segment(0, 4, "p", status=status)])


def test_fair_order_puts_the_idle_team_first() -> None:
    jobs = [_job(f"video_a{i:02}", "big", SegStatus.IN_PROGRESS) for i in range(3)]
    jobs += [_job(f"video_b{i:02}", "big", SegStatus.PENDING) for i in range(5)]
    jobs += [_job(f"video_c{i:02}", "small", SegStatus.PENDING) for i in range(2)]
    snap = fair_order(jobs)
    assert snap.running == 3
    assert snap.order[:2] == ["video_c00", "video_c01"]  # small has nothing running: it goes first
    assert snap.order[2:] == [f"video_b{i:02}" for i in range(5)]  # big keeps its own order
    assert snap.depth == {"big": 5, "small": 2}
    refused = _job("video_d", "big", SegStatus.SUBMITTING)
    refused.requested["submit_not_sent"] = {"0": True}  # a 429 on its create: waiting, not running
    assert waiting_segment(refused) is not None and running(refused) == 0


def test_small_team_is_not_starved_under_an_upstream_limit(tmp_path: Path) -> None:
    sim = start_simulator("--max-concurrent", "3", time_scale=0.03)
    gw = start_gateway(sim, tmp_path, store_url("sqlite", tmp_path))
    try:
        acme, globex = gw.http("acme"), gw.http("globex")
        with ThreadPoolExecutor(8) as pool:  # the busy team fills the queue quickly
            big = list(
                pool.map(lambda i: acme.post("/v1/videos", json={"prompt": f"busy {i}", "seconds": "4"}), range(40))
            )
        small = [globex.post("/v1/videos", json={"prompt": f"small team {i}", "seconds": "4"}) for i in range(4)]
        assert all(r.status_code == 200 for r in big + small), [r.text for r in big + small if r.status_code != 200]
        small_ids = {r.json()["id"] for r in small}
        last = max(r.json()["id"] for r in big)  # the newest: surely still waiting
        wait_for(lambda: isinstance(acme.get(f"/v1/videos/{last}").json().get("queue_position"), int), "a position")
        depth = 'sora_gateway_queue_depth{tenant="acme"}'
        wait_for(lambda: depth in httpx.get(gw.url + "/metrics").text, "the queue depth metric")
        order: list[str] = []
        status: dict[str, str] = {}
        deadline = time.monotonic() + 300
        while len(order) < 44:
            assert time.monotonic() < deadline, f"only {len(order)} of 44 finished"
            for client in (acme, globex):
                for video in client.get("/v1/videos", params={"limit": 100}).json()["data"]:
                    if video["status"] in ("completed", "failed") and video["id"] not in status:
                        status[video["id"]] = video["status"]
                        order.append(video["id"])
            time.sleep(0.05)
        assert set(status.values()) == {"completed"}, status
        ranks = sorted(order.index(v) + 1 for v in small_ids)
        assert ranks[-1] <= 22, f"globex finished at {ranks} of 44"
        stats = sim_stats(sim)
        assert stats["generations"] == 44, stats
        logs = gw.proc.logs()
        assert '"upstream_throttled"' in logs  # the limit was learned from the upstream's 429
    finally:
        gw.proc.stop()
        sim.stop()


async def _stored(store: MemoryStore, *jobs: Job) -> None:
    for job in jobs:
        await store.put(job)


async def test_slots_go_to_the_head_of_the_fair_order() -> None:
    store = MemoryStore()
    running_jobs = [_job(f"video_r{i}", "big", SegStatus.IN_PROGRESS) for i in range(2)]
    big = [_job(f"video_b{i}", "big", SegStatus.PENDING) for i in range(3)]
    small = _job("video_s0", "small", SegStatus.PENDING)
    await _stored(store, *running_jobs, *big, small)
    queue = FairQueue(store, max_concurrent=3)
    assert await queue.may_submit(big[0]) is False  # one slot free: it is the small team's
    assert await queue.may_submit(small) is True
    assert [queue.position(j) for j in (small, *big)] == [1, 2, 3, 4]

    async def send() -> None:
        small.segments[0].status = SegStatus.QUEUED

    await queue.sent(small, small.segments[0], send)
    assert await queue.may_submit(big[0]) is False  # the slot is taken until the next snapshot shows more
    newcomer = _job("video_z9", "small", SegStatus.PENDING)
    assert await queue.may_submit(newcomer) is False
    lane = queue.status()["upstreams"]["default"]  # type: ignore[index]
    assert lane["limit"] == 3 and lane["source"] == "configured" and lane["waiting"] == 4


async def test_a_429_teaches_the_limit_and_pauses() -> None:
    store = MemoryStore()
    running_jobs = [_job(f"video_r{i}", "big", SegStatus.IN_PROGRESS) for i in range(3)]
    job = _job("video_b0", "big", SegStatus.PENDING)
    await _stored(store, *running_jobs, job)
    queue = FairQueue(store)
    assert await queue.may_submit(job) is True  # nothing known yet: no queue
    seg = job.segments[0]

    async def refused() -> None:  # what SegmentRunner.submit does with a 429
        seg.status = SegStatus.SUBMITTING
        job.requested["submit_not_sent"] = {"0": True}
        seg.next_poll_at = time.time() + 2.0

    await store.put(job)
    await queue.sent(job, seg, refused)
    assert queue.lanes["default"].learned == 3 and await store.kv_get("fairq:limit:default") == "3"
    assert await queue.may_submit(job) is False  # paused for the Retry-After, then at the limit
    other = FairQueue(store)  # another replica reads what was learned
    assert await other.may_submit(job) is True  # it has not read the store yet (its loop does so every 0.5 s)
    await other.refresh(force=True)
    lane = other.lanes["default"]
    assert other.limit(lane) == 3 and lane.paused_until > time.time()
    assert await other.may_submit(job) is False
    elsewhere = _job("video_e0", "big", SegStatus.PENDING)
    elsewhere.route = "second"  # another upstream's lane knows no limit: not held back
    assert await queue.may_submit(elsewhere) is True
