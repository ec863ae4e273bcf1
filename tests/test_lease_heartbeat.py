"""A lease heartbeat ends with its holder, even when the store turns the cancel into a StoreError.

Regression (seen as a create that never answered, its job never driven, under a loaded machine on
Redis): the request's heartbeat task was cancelled while renewing; the Redis client gave the cancel
back as an error, the loop caught it as a passing StoreError and renewed the lease forever, so the
request waited on it forever and no replica could take the job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.store.base import StoreError
from gateway.store.memory import MemoryStore
from tests.test_driver_robustness import FakeUpstream, driver_for, make_job


class CancelSwallowingStore(MemoryStore):
    """Renewals are slow; a cancel that lands in one comes back as a StoreError (as a client's retry might)."""

    def __init__(self) -> None:
        super().__init__()
        self.renewals = 0
        self.swallowed = 0
        self._renewing: set[str] = set()
        self.second_renewal = asyncio.Event()
        self.swallow = True

    async def acquire_lease(self, job_id: str, owner: str, ttl_s: float) -> bool:
        if job_id in self._renewing:
            self.renewals += 1
            if self.renewals >= 2:
                self.second_renewal.set()
            try:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                if not self.swallow:
                    raise
                self.swallowed += 1
                raise StoreError("redis acquire_lease failed: Timeout reading from socket") from None
        self._renewing.add(job_id)
        return await super().acquire_lease(job_id, owner, ttl_s)


async def test_leaving_holding_ends_the_heartbeat_whatever_the_store_does_with_the_cancel(tmp_path: Path) -> None:
    store = CancelSwallowingStore()
    driver = driver_for(store, FakeUpstream(), tmp_path, lease_ttl_s=0.3)
    job = make_job()
    await store.put(job)

    async def request() -> None:
        async with driver.holding(job.id):
            await store.second_renewal.wait()  # a renewal is under way when the request ends

    task = asyncio.create_task(request())
    done, _ = await asyncio.wait({task}, timeout=30)
    if task not in done:  # before the fix: the request never ended
        store.swallow = False
        task.cancel()
        raise AssertionError("the request holding the job never finished: its heartbeat renews forever")
    assert store.swallowed >= 1
    renewals = store.renewals
    await asyncio.sleep(1.0)
    assert store.renewals == renewals, "the lease is still being renewed after its holder left"
