"""Client polls from memory: a per-replica snapshot of each polled job, with its response bytes.

``GET /v1/videos/{id}`` is by far the most frequent request and the cheapest to answer wrongly, so
the rules are strict:

* **This replica's writes invalidate at once.** :meth:`Snapshots.attach` wraps the store's job writes
  (``put``, ``put_held``, ``update``, ``update_claiming``, ``delete``) on the instance (as ``instrument.py``
  does for metrics): the entry is dropped before the write is sent, and a read that was in flight across
  a write is not kept, so a poll never sees a state older than a change this replica made (or is making).
* **Other replicas' writes are seen within ``max_age_s``.** An entry is served for at most that long
  after it was read from the store (``poll_snapshot_s``, default 0.5 s; 0 turns snapshots off), which
  is the explicit bound on staleness across replicas (Redis, or SQLite shared by ``--workers``).

An entry keeps the :class:`Job` as read (never handed to code that changes it) and the bytes each face
rendered from it (:meth:`Snapshot.rendered`), so a repeated poll costs no store round trip, no JSON
decode and no JSON encode. The table is bounded (``max_entries``, oldest dropped first).
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.core.models import Job
from gateway.store.base import JobStore


class Snapshot:
    """One job as last read from the store, and the responses already rendered from it."""

    __slots__ = ("job", "read_at", "renders")

    def __init__(self, job: Job, read_at: float) -> None:
        self.job = job
        self.read_at = read_at
        self.renders: dict[str, bytes] = {}

    def rendered(self, face: str, render: Callable[[Job], bytes]) -> bytes:
        body = self.renders.get(face)
        if body is None:
            body = self.renders[face] = render(self.job)
        return body


class Snapshots:
    def __init__(self, store: JobStore, *, max_age_s: float = 0.5, max_entries: int = 50_000) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Snapshot] = OrderedDict()
        self._reading: dict[str, int] = {}  # job id -> reads of it in flight
        self._dirty: set[str] = set()  # ids written while a read of them was in flight
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_age_s > 0

    def attach(self) -> Snapshots:
        """Invalidate on every write this replica makes through ``store`` (wrapped on the instance)."""
        if not self.enabled:
            return self
        for name in ("put", "put_held", "update", "update_claiming"):
            setattr(self.store, name, self._by_job(getattr(self.store, name)))
        self.store.delete = self._by_id(self.store.delete)  # type: ignore[method-assign]
        return self

    def _by_job(self, write: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(write)
        async def invalidating(job: Job, *args: Any, **kwargs: Any) -> Any:
            self.invalidate(job.id)
            try:
                return await write(job, *args, **kwargs)
            finally:
                self.invalidate(job.id)  # a read that started during the write must not be kept

        return invalidating

    def _by_id(self, write: Callable[[str], Awaitable[Any]]) -> Callable[[str], Awaitable[Any]]:
        @functools.wraps(write)
        async def invalidating(job_id: str) -> Any:
            self.invalidate(job_id)
            try:
                return await write(job_id)
            finally:
                self.invalidate(job_id)

        return invalidating

    def invalidate(self, job_id: str) -> None:
        self._entries.pop(job_id, None)
        if job_id in self._reading:
            self._dirty.add(job_id)

    async def get(self, job_id: str) -> Snapshot | None:
        """The job's snapshot (read from the store when missing or older than ``max_age_s``); None: no such job."""
        now = time.monotonic()
        entry = self._entries.get(job_id)
        if entry is not None and now - entry.read_at < self.max_age_s:
            self.hits += 1
            return entry
        self.misses += 1
        self._reading[job_id] = self._reading.get(job_id, 0) + 1
        try:
            job = await self.store.get(job_id)
        finally:
            left = self._reading[job_id] - 1
            if left:
                self._reading[job_id] = left
            else:
                del self._reading[job_id]
            dirty = job_id in self._dirty
            if not left:
                self._dirty.discard(job_id)
        if job is None:
            return None
        entry = Snapshot(job, now)
        if self.enabled and not dirty:
            self._entries[job_id] = entry
            self._entries.move_to_end(job_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry
