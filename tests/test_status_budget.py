"""The status budget (jobs/budget.py): per-job status calls to one upstream within ``rate`` a second.

Unit tests on a fake clock, then the real thing: 30 MiniMax jobs in flight on the simulator at real time (no
listing, a query per job), polled with ``poll_max_s: 1`` (30 calls a second without the budget), counted by
the simulator from the first create until every job has been seen ``in_progress``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.config import Settings
from gateway.jobs import budget as budget_mod
from gateway.jobs.budget import StatusBudget, StatusDeferred
from tests.conftest import FAST_CONFIG, KEYS, calls, start_gateway
from tests.procs import Proc, start_simulator


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(budget_mod.time, "monotonic", fake)
    monkeypatch.setattr(budget_mod.time, "time", fake)
    return fake


def test_a_burst_then_the_rate_and_every_job_gets_its_turn(clock: Clock) -> None:
    budget = StatusBudget(rate=2.0)  # burst: 5 s' worth
    jobs = [f"task-{n}" for n in range(40)]
    due = dict.fromkeys(jobs, clock.now)
    made: list[tuple[float, str]] = []
    while clock.now < 1000.0 + 60:
        for job in jobs:
            if due[job] > clock.now:
                continue
            try:
                budget.take(job)
            except StatusDeferred as later:
                due[job] = later.at
                continue
            made.append((clock.now, job))
            due[job] = clock.now + 1.0  # the job's own interval: a poll a second
        clock.now += 0.05
    first = [at for at, _ in made if at < 1000.0 + 0.001]
    assert len(first) == 10  # the burst
    for start in range(0, 60):
        inside = [at for at, _ in made if 1000.0 + start <= at < 1000.0 + start + 20]
        assert len(inside) <= 10 + 2 * 20 + 1
    assert 125 <= len(made) <= 10 + 2 * 60 + 1
    polled = [job for _, job in made]
    counts = [polled.count(job) for job in jobs]
    assert min(counts) >= 2 and max(counts) - min(counts) <= 1, counts  # first come, first served: no starving


def test_a_slot_is_kept_for_its_job_and_dropped_when_it_ends(clock: Clock) -> None:
    budget = StatusBudget(rate=1.0, burst=1)
    budget.take("a")
    with pytest.raises(StatusDeferred) as first:
        budget.take("b")
    assert first.value.at == pytest.approx(clock.now + 1.0)
    with pytest.raises(StatusDeferred) as again:  # back early: the same slot, not a later one
        budget.take("b")
    assert again.value.at == first.value.at
    with pytest.raises(StatusDeferred) as third:
        budget.take("c")
    assert third.value.at == pytest.approx(clock.now + 2.0)
    clock.now += 1.0
    budget.take("b")  # its slot
    budget.release("c")
    with pytest.raises(StatusDeferred):
        budget.take("c")  # a new reservation (the released one is gone), after c's old slot
    assert budget.deferred == 4


KEY = "sk-api-budget-minimax-" + "7pQ" * 8
JOBS = 30


@pytest.fixture(scope="module")
def realtime_minimax() -> Iterator[Proc]:
    sim = start_simulator("--api-key", KEY, profile="minimax-hailuo", time_scale=1.0)  # queued 10 s, then minutes
    yield sim
    sim.stop()


async def create_many(url: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {KEYS['acme']}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        gate = asyncio.Semaphore(4)

        async def one(n: int) -> str:
            async with gate:
                body = {"prompt": f"budget job {n}", "seconds": "4", "size": "1280x720"}
                answer = await http.post("/v1/videos", json=body)
                assert answer.status_code == 200, answer.text
                return str(answer.json()["id"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def test_jobs_without_a_listing_are_polled_within_the_budget_from_the_first_second(
    realtime_minimax: Proc, tmp_path: Path
) -> None:
    rate = Settings().status_calls_per_s  # the default budget
    config = FAST_CONFIG + "poll_max_s: 1\n"  # MiniMax advises 10 s; 1 s makes per-job polling 30 calls/s here
    config += f"upstreams:\n  - {{url: {realtime_minimax.url}, api_key_env: BUDGET_MM_KEY, profile: minimax-hailuo}}\n"
    before = calls(realtime_minimax, "mm_query")
    started = time.monotonic()
    gw = start_gateway(realtime_minimax, tmp_path, "memory://", config=config, env={"BUDGET_MM_KEY": KEY})
    try:
        ids = asyncio.run(create_many(gw.url, JOBS))
        deadline = time.monotonic() + 150
        with gw.http() as http:
            while True:
                shown = [http.get(f"/v1/videos/{i}").json()["status"] for i in ids]
                if shown == ["in_progress"] * JOBS:
                    break  # every job has been polled after its 10 s in the queue: none was starved
                assert set(shown) <= {"queued", "in_progress"}, shown
                assert time.monotonic() < deadline, f"{shown.count('queued')} jobs never polled in_progress"
                time.sleep(0.5)
        made, elapsed = calls(realtime_minimax, "mm_query") - before, time.monotonic() - started
        bound = 5 * rate + rate * elapsed + 1  # the burst, then the rate, from the gateway's first second
        assert JOBS <= made <= bound, f"{made} status calls in {elapsed:.1f}s for {JOBS} jobs (bound {bound:.0f})"
        assert "upstream_lost" not in gw.proc.logs()
    finally:
        gw.proc.stop()
