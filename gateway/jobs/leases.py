"""This replica's leases: which jobs it holds, and a heartbeat for each one it is working on now.

A job is driven by the holder of its lease (``JobStore.acquire_lease`` with a TTL). While a step (or
a new job's first create) runs, a heartbeat renews the lease every ``ttl_s / 3``; a lease that
another owner took, or that was not renewed in time, is *lost*, and a step that lost its lease
saves nothing (:meth:`Leases.lost`). A replica that dies stops renewing; once its leases expire
another replica's loop takes its jobs over from the state in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from gateway.observability import log
from gateway.store.base import JobStore, StoreError

Take = Callable[[str, float], Awaitable[None]]  # (owner, ttl_s): take a new job's lease in another write


@dataclass
class Lease:
    """This replica's hold on one job while a step runs; renewed by a heartbeat."""

    ttl_s: float
    renewed_at: float  # monotonic time just before the last successful acquire
    lost: bool = False

    @property
    def valid(self) -> bool:
        """Safe to write: not taken by another owner and (with margin) not expired."""
        return not self.lost and time.monotonic() - self.renewed_at < self.ttl_s * 0.9


class Leases:
    def __init__(self, store: JobStore, *, owner: str, ttl_s: float) -> None:
        self.store = store
        self.owner = owner
        self.ttl_s = ttl_s
        self.held: set[str] = set()  # jobs whose lease this replica took (and has not seen lost or released)
        self.beating: dict[str, Lease] = {}  # jobs with a step (or a first submit) running here

    async def take(self, job_id: str) -> bool:
        """Take (or renew) ``job_id``'s lease; False when another replica holds it."""
        if await self.store.acquire_lease(job_id, self.owner, self.ttl_s):
            self.held.add(job_id)
            return True
        self.held.discard(job_id)
        return False

    def lost(self, job_id: str) -> bool:
        """A step runs on ``job_id`` here and its lease is no longer safe to write under."""
        lease = self.beating.get(job_id)
        return lease is not None and not lease.valid

    @contextlib.asynccontextmanager
    async def holding(self, job_id: str, take: Take | None = None) -> AsyncIterator[None]:
        """Hold a new job (its id is new: the lease is always ours) while a request works on it.

        ``take(owner, ttl_s)``: takes the lease itself (with the job's record, in one write,
        :meth:`gateway.store.base.JobStore.put_held`) instead of a lease of its own."""
        try:
            started = time.monotonic()
            if take is None:
                await self.store.acquire_lease(job_id, self.owner, self.ttl_s)
            else:
                await take(self.owner, self.ttl_s)
            self.held.add(job_id)
            async with self.heartbeat(job_id, started):
                yield
        except BaseException:
            self.held.discard(job_id)
            with contextlib.suppress(StoreError):
                await self.store.release_lease(job_id, self.owner)
            raise

    @contextlib.asynccontextmanager
    async def heartbeat(self, job_id: str, acquired_at: float) -> AsyncIterator[Lease]:
        """Renew ``job_id``'s lease (taken at monotonic ``acquired_at``) until the block ends."""
        lease = Lease(self.ttl_s, acquired_at)
        self.beating[job_id] = lease
        stop = asyncio.Event()
        renewer = asyncio.create_task(self._renew(job_id, lease, stop), name=f"lease-{job_id}")
        try:
            yield lease
        finally:
            # ``stop`` as well as the cancel: a cancel that lands in a store call can come back as a
            # StoreError (the Redis client's timeout/retry), which the loop would swallow and go on renewing
            # forever, holding this request and the job with it
            stop.set()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if self.beating.get(job_id) is lease:
                del self.beating[job_id]

    async def _renew(self, job_id: str, lease: Lease, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.ttl_s / 3)
            started = time.monotonic()
            try:
                ours = await self.store.acquire_lease(job_id, self.owner, self.ttl_s)
            except StoreError:  # try again; past the ttl the lease counts as lost (Lease.valid)
                continue
            if stop.is_set():
                return
            if not ours:
                lease.lost = True
                self.held.discard(job_id)
                log.warning("lease_lost", video_id=job_id, owner=self.owner)
                return
            lease.renewed_at = started

    async def release(self, job_id: str) -> None:
        self.held.discard(job_id)
        await self.store.release_lease(job_id, self.owner)

    async def release_all(self) -> None:
        """Hand every lease back (a shutdown): another replica continues at once."""
        for job_id in list(self.held):
            with contextlib.suppress(StoreError):
                await self.store.release_lease(job_id, self.owner)
        self.held.clear()
