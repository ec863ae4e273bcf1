"""A lease on a piece of admission work (a batch being made, an Idempotency-Key's create) while a request runs it.

``async with leased(store, key, ttl_s) as held`` takes the store's lease on ``key`` for a fresh owner (one per
call: two requests on one replica never share a lease) and renews it every ``ttl_s / 3`` until the block ends;
``held`` is ``None`` when another live owner holds it. A holder that dies stops renewing: once the lease expires
another request or replica may take the work over (:attr:`Held.valid` says whether this one still may write).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.observability import log
from gateway.store.base import JobStore, StoreError


@dataclass
class Held:
    key: str
    owner: str
    ttl_s: float
    renewed_at: float  # monotonic time just before the last successful acquire
    lost: bool = False

    @property
    def valid(self) -> bool:
        """Not taken by another owner and (with margin) not expired."""
        return not self.lost and time.monotonic() - self.renewed_at < self.ttl_s * 0.9


async def _renew(store: JobStore, held: Held) -> None:
    while not held.lost:
        await asyncio.sleep(held.ttl_s / 3)
        started = time.monotonic()
        try:
            if await store.acquire_lease(held.key, held.owner, held.ttl_s):
                held.renewed_at = started
            else:
                held.lost = True
                log.warning("work_lease_lost", key=held.key)
        except StoreError:  # try again on the next beat; ``valid`` turns false if it lasts
            pass


@contextlib.asynccontextmanager
async def leased(store: JobStore, key: str, ttl_s: float) -> AsyncIterator[Held | None]:
    """Hold ``key``'s lease (renewed) for the block; ``None`` when another live owner holds it."""
    owner = uuid.uuid4().hex
    started = time.monotonic()
    if not await store.acquire_lease(key, owner, ttl_s):
        yield None
        return
    held = Held(key, owner, ttl_s, started)
    renewer = asyncio.create_task(_renew(store, held), name=f"lease-{key}")
    try:
        yield held
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        with contextlib.suppress(StoreError):
            await asyncio.shield(store.release_lease(key, owner))
