"""The in-process quota's running slots (gateway/quota/memory.py): a lost release frees its slot at the
deadline, a settled job's slot is free at once, and a charge does not walk every job in flight."""

from __future__ import annotations

import pytest

from gateway.quota import memory
from gateway.quota.backend import Ask
from gateway.quota.memory import MemoryQuota


class Clock:
    now = 1_000_000.0

    def time(self) -> float:
        return self.now


def ask(job_id: str, limit: int | None = None) -> Ask:
    return Ask(job_id=job_id, seconds=4, micro_usd=400_000, day="2026-12-05", month="2026-12", concurrent_limit=limit)


async def test_slots_free_at_their_deadline_and_at_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(memory, "time", clock)
    quota = MemoryQuota()
    assert (await quota.charge("acme", ask("a", 2), job_ttl_s=100)).refused is None
    clock.now += 50
    assert (await quota.charge("acme", ask("b", 2), job_ttl_s=100)).refused is None
    assert (await quota.charge("acme", ask("c", 2), job_ttl_s=100)).refused == "concurrent_jobs"
    clock.now += 51  # a's release was lost: its slot frees itself; b's has 49 s left
    assert (await quota.charge("acme", ask("c", 2), job_ttl_s=100)).refused is None
    assert (await quota.charge("acme", ask("d", 2), job_ttl_s=100)).refused == "concurrent_jobs"
    await quota.settle("acme", "b", "2026-12-05", "2026-12", refund=False)
    assert (await quota.charge("acme", ask("d", 2), job_ttl_s=100)).refused is None
    clock.now += 99.5  # c is due in 0.5 s, d in 0.5 s too (charged at the same time)
    assert (await quota.charge("acme", ask("e", 2), job_ttl_s=100)).refused == "concurrent_jobs"
    clock.now += 1
    assert (await quota.charge("acme", ask("e", 2), job_ttl_s=100)).refused is None


async def test_a_charge_looks_only_at_the_slots_that_are_due(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(memory, "time", clock)
    quota = MemoryQuota()
    for i in range(5000):
        assert (await quota.charge("acme", ask(f"job{i}"), job_ttl_s=3600)).refused is None
    seen = 0
    running = quota._running["acme"]

    class Counting(dict[str, float]):
        def items(self):  # type: ignore[override]
            nonlocal seen
            seen += 1
            return super().items()

    quota._running["acme"] = Counting(running)
    for i in range(100):
        await quota.charge("acme", ask(f"more{i}"), job_ttl_s=3600)
    assert seen == 0  # before: one walk over every running job per charge
    assert len(quota._running["acme"]) == 5100
