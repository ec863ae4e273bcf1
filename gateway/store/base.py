"""The one small interface every store implements (memory, sqlite, redis).

A store keeps job records, per-job leases (so one replica drives a job at a
time) and a few small keyed values (cache index, idempotency, quota
counters belong to their own modules but may use :meth:`kv_*`).
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.models import Job


class StoreError(Exception):
    """The store could not be reached or answered nonsense."""


class JobStore(Protocol):
    url: str

    async def put(self, job: Job) -> None:
        """Insert or replace a job record (``job.id`` is the key)."""

    async def get(self, job_id: str) -> Job | None: ...

    async def delete(self, job_id: str) -> bool:
        """Remove a record; True if it existed."""

    async def list(
        self, tenant: str, *, after: str | None = None, limit: int = 20, order: str = "desc"
    ) -> tuple[list[Job], bool]:
        """A tenant's jobs ordered by ``(created_at, id)``; returns ``(page, has_more)``.

        ``after`` is the id of the last item of the previous page; an unknown
        ``after`` yields an empty page.
        """

    async def active_ids(self) -> list[str]:
        """Ids of every job that is not completed or failed."""

    async def acquire_lease(self, job_id: str, owner: str, ttl_s: float) -> bool:
        """Take or extend the lease on a job; False if another live owner holds it."""

    async def release_lease(self, job_id: str, owner: str) -> None: ...

    async def kv_get(self, key: str) -> str | None: ...

    async def kv_set(self, key: str, value: str, *, ttl_s: float | None = None, nx: bool = False) -> bool:
        """Set a value; with ``nx`` only when absent. True when written."""

    async def kv_delete(self, key: str) -> None: ...

    async def ping(self) -> None:
        """Raise :class:`StoreError` when the store is unreachable."""

    async def close(self) -> None: ...
