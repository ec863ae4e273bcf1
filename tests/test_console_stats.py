"""The console's data: usage counters in every store, usage over time, and a job list that holds at 100,000 jobs."""

from __future__ import annotations

import time

from gateway.core.ids import new_video_id
from gateway.core.models import Job, Status
from gateway.pipeline.console_jobs import SCAN_LIMIT, JobFilter, find_jobs
from gateway.pipeline.console_stats import UsageStats
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore


async def test_counters_add_up_per_key_and_field(store: JobStore) -> None:
    await store.counters_add([("a", 60)], {"x": 1, "y": 0.25})
    await store.counters_add([("a", 60), ("b", 60)], {"x": 2.5})
    await store.counters_add([("b", 60)], {"x": 4.5})
    assert await store.counters_get(["a", "missing", "b"]) == [{"x": 3.5, "y": 0.25}, {}, {"x": 7.0}]
    assert await store.counters_get([]) == []


async def test_usage_buckets_count_once_per_job_and_split_teams(store: JobStore) -> None:
    now = [1_800_000_000.0]
    stats = UsageStats(store, clock=lambda: now[0])
    job = Job(id=new_video_id(), tenant="acme", model="sora-2", prompt="p", size="1280x720", seconds="4")
    job.upstream, job.cost_usd, job.status = "openai-2025-10", 0.4, Status.COMPLETED
    job.requested["charged"] = {"seconds": 4, "usd": 0.4}
    await stats.accepted(job, saved_usd=0.0)
    await stats.job_finished(job)
    await stats.job_finished(job)  # a listener run again: counted once
    hit = Job(id=new_video_id(), tenant="globex", model="sora-2", prompt="p", size="1280x720", seconds="4")
    hit.cache, hit.status = "hit", Status.COMPLETED
    await stats.accepted(hit, saved_usd=0.4)
    await stats.refused("globex", "budget_usd_per_month_exceeded")
    now[0] += 3 * 3600  # three hours later: out of the hour range, in the day's

    hour = await stats.series("hour", None)
    assert len(hour["buckets"]) == 60 and hour["totals"]["requests"] == 0
    day = await stats.series("day", None)
    assert len(day["buckets"]) == 24 and day["step_s"] == 3600
    t = day["totals"]
    assert (t["requests"], t["spend_usd"], t["video_seconds"], t["saved_usd"], t["cache_hits"]) == (2, 0.4, 4, 0.4, 1)
    assert day["refusals"] == {"budget_usd_per_month_exceeded": 1}
    assert day["providers"]["openai-2025-10"]["spend_usd"] == 0.4
    acme = await stats.series("30d", ["acme"])
    assert len(acme["buckets"]) == 30 and acme["totals"]["spend_usd"] == 0.4 and acme["totals"]["refused"] == 0
    assert acme["providers"] == {} and set(acme["teams"]) == {"acme"}


async def test_the_job_list_holds_at_100k_jobs() -> None:
    store = MemoryStore()
    start = int(time.time()) - 200_000
    rare = []
    for i in range(100_000):
        tenant = "acme" if i % 3 else "globex"
        job = Job(
            id=f"video_{(start + i) * 1_000_000:014x}{i:034x}",
            tenant=tenant,
            model="sora-2-pro" if i % 10 == 0 else "sora-2",
            prompt=f"a lighthouse number {i}" + (" with a purple whale" if i % 25_000 == 7 else ""),
            size="1280x720",
            seconds="4",
            status=Status.FAILED if i % 7 == 0 else Status.COMPLETED,
            created_at=start + i,
        )
        if "whale" in job.prompt:
            rare.append(job.id)
        await store.put(job)
    teams = ["acme", "globex"]

    page = await find_jobs(store, teams, JobFilter(), cursor=None, limit=25)
    assert len(page.jobs) == 25 and page.scanned == 25 and page.next_cursor == page.jobs[-1].id
    assert page.jobs[0].created_at == start + 99_999  # newest first, across both teams
    following = await find_jobs(store, teams, JobFilter(), cursor=page.next_cursor, limit=25)
    assert following.jobs[0].created_at == start + 99_974  # no gap, no repeat

    # a filter almost nothing matches: every call reads a bounded number of records, the cursor goes on
    found, cursor, calls = [], None, 0
    while True:
        part = await find_jobs(store, teams, JobFilter(text="PURPLE whale"), cursor=cursor, limit=25)
        assert part.scanned <= SCAN_LIMIT
        found += [j.id for j in part.jobs]
        calls += 1
        cursor = part.next_cursor
        if cursor is None:
            break
    assert found == list(reversed(rare)) and calls >= 100_000 // SCAN_LIMIT

    ranged = await find_jobs(
        store, ["globex"], JobFilter(status="failed", since=start + 1000, until=start + 2000), cursor=None, limit=100
    )
    assert ranged.next_cursor is None and ranged.jobs
    assert all(j.tenant == "globex" and str(j.status) == "failed" for j in ranged.jobs)
    assert all(start + 1000 <= j.created_at <= start + 2000 for j in ranged.jobs)
    assert len(ranged.jobs) == len([i for i in range(1000, 2001) if i % 3 == 0 and i % 7 == 0])
    model = await find_jobs(store, teams, JobFilter(model="sora-2-pro"), cursor=None, limit=10)
    assert [j.created_at for j in model.jobs] == [start + i for i in range(99_990, 99_890, -10)]


def test_provider_tiles_turn_amber_and_red() -> None:
    from gateway.faces.console_providers import _level

    def tile(**over: object) -> dict[str, object]:
        base = {"detected": True, "breaker": "closed", "error_rate": 0.0, "latency_p50_s": 0.5}
        base["queue"] = {"paused_s": 0}
        return {**base, **over}

    assert _level(tile()) == "ok"
    assert _level(tile(error_rate=None, latency_p50_s=None)) == "ok"  # no calls yet
    assert _level(tile(error_rate=0.05)) == "amber"
    assert _level(tile(latency_p50_s=10)) == "amber"
    assert _level(tile(breaker="half_open")) == "amber"
    assert _level(tile(queue={"paused_s": 3.0})) == "amber"  # the upstream said 429: paused
    assert _level(tile(breaker="open")) == "red"
    assert _level(tile(detected=False)) == "red"
