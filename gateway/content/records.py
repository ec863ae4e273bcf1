"""Purge the records of finished jobs once their retention is long over, so the store stops growing.

A completed job is kept until its ``expires_at`` (``retention_s`` after completion) plus a grace period
(``record_grace_s``, a day by default; 0 keeps every record forever). A failed job has no
``expires_at``: it is kept ``retention_s`` after its last update, plus the grace. A job still running
is never purged. Purging deletes the record and the job's retained files (hard links: a cache hit of
it keeps its own). The upstream's copy expired long before.

The store protocol has no global listing, and this adds none: a sweep walks the tenants the policy
files name, plus ``anonymous``, with the ordinary per-tenant ``list``. Records of a team removed
from the policies stay until the team is back (nobody can read them meanwhile). Ids are gathered
first and deleted afterwards, so no delete moves a listing cursor; a sweep deletes at most ``batch``.
With several replicas, the one that claims ``janitor:records`` (``kv_set nx``, expiring after the
interval) sweeps; the others skip that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

from gateway.content.base import ContentStore, ContentStoreError
from gateway.core.models import Job, Status
from gateway.observability import log
from gateway.policies.model import ANONYMOUS
from gateway.store.base import JobStore
from gateway.tasks import cancel_and_wait

CLAIM = "janitor:records"
PAGE = 100


def purge_after(job: Job, retention_s: float, grace_s: float) -> float | None:
    """When the record of ``job`` may go (epoch seconds), or None while it runs."""
    if job.status == Status.COMPLETED and job.expires_at is not None:
        return float(job.expires_at) + grace_s
    if job.terminal:
        return float(job.completed_at or job.updated_at) + retention_s + grace_s
    return None


class RecordJanitor:
    def __init__(
        self,
        store: JobStore,
        content: ContentStore,
        tenants: Callable[[], Iterable[str]],
        *,
        retention_s: float,
        grace_s: float,
        owner: str = "gateway",
        interval_s: float = 3600.0,
        first_after_s: float = 60.0,
        batch: int = 10_000,
    ) -> None:
        self.store = store
        self.content = content
        self.tenants = tenants
        self.retention_s = retention_s
        self.grace_s = grace_s
        self.owner = owner
        self.interval_s = interval_s
        self.first_after_s = first_after_s
        self.batch = batch
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.grace_s > 0:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="record-janitor")

    async def stop(self) -> None:
        self._stop.set()
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        wait = min(self.first_after_s, self.interval_s)
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            if self._stop.is_set():
                return
            wait = self.interval_s
            try:
                if await self.store.kv_set(CLAIM, self.owner, ttl_s=self.interval_s * 0.9, nx=True):
                    await self.sweep()
            except Exception:  # a store outage must not stop the janitor
                log.exception("record_sweep_failed")

    async def due(self, now: float) -> list[Job]:
        """The finished jobs whose records may go, oldest first, at most ``batch``."""
        found: list[Job] = []
        for tenant in sorted({*self.tenants(), ANONYMOUS.name}):
            after: str | None = None
            while len(found) < self.batch:
                page, more = await self.store.list(tenant, after=after, limit=PAGE, order="asc")
                for job in page:
                    when = purge_after(job, self.retention_s, self.grace_s)
                    if when is not None and when < now:
                        found.append(job)
                if not more or not page:
                    break
                after = page[-1].id
        return found[: self.batch]

    async def sweep(self, now: float | None = None) -> list[str]:
        """Delete the records (and files) of jobs past retention and grace; returns their ids."""
        if self.grace_s <= 0:
            return []
        purged: list[str] = []
        for job in await self.due(time.time() if now is None else now):
            if await self.store.delete(job.id):
                try:
                    await self.content.remove(job.id)
                except ContentStoreError as exc:  # the bucket is down: the janitor's age rule removes them later
                    log.warning("content_remove_failed", video_id=job.id, error=str(exc))
                purged.append(job.id)
        if purged:
            log.info("job_records_purged", count=len(purged))
        return purged
