"""The one small interface every store implements (memory, sqlite, redis).

A store keeps job records, per-job leases (so one replica drives a job at a
time) and a few small keyed values (cache index, idempotency, quota
counters belong to their own modules but may use :meth:`kv_*`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Protocol

from gateway.core.models import TERMINAL, Job
from gateway.observability import log

EVENTS_PENDING = "events_pending"  # Job.requested flag: terminal, its listeners have not run yet
_VIDEO_ID = re.compile(r"^video_([0-9a-f]{14})[0-9a-f]{34}$")  # gateway.core.ids.new_video_id


PASSIVE = "passive"  # Job.requested flag: a record another job completes (a story's scene), never driven


def is_active(job: Job) -> bool:
    """Whether the driver still has work on ``job``: not finished, or finished with listeners to run."""
    if job.requested.get(PASSIVE):
        return False
    return job.status not in TERMINAL or bool(job.requested.get(EVENTS_PENDING))


def id_position(job_id: str) -> tuple[int, str] | None:
    """Where ``job_id`` sorts in a ``(created_at, id)`` listing, from the microseconds its id starts with.

    For an ``after`` cursor whose record is gone (deleted while a client paged); None when the
    id is not one the gateway makes.
    """
    found = _VIDEO_ID.match(job_id)
    return (int(found.group(1), 16) // 1_000_000, job_id) if found else None


def load_listed(raws: list[str | bytes | None]) -> list[Job]:
    """Job records of a listing; one that cannot be read is left out (and logged), never fails the page."""
    jobs: list[Job] = []
    for raw in raws:
        if raw is None:
            continue
        try:
            jobs.append(Job.from_dict(json.loads(raw)))
        except Exception as exc:
            log.error("record_unreadable", error=repr(exc)[:200])
    return jobs


Values = Sequence[tuple[str, str, "float | None"]]  # keyed values written with a job: (key, value, ttl_s)


class StoreError(Exception):
    """The store could not be reached or answered nonsense."""


class JobStore(Protocol):
    url: str

    async def put(self, job: Job) -> None:
        """Insert or replace a job record (``job.id`` is the key)."""

    async def put_held(self, job: Job, owner: str, ttl_s: float, values: Values = ()) -> None:
        """Store a new job with its lease for ``owner`` and the keyed ``values`` in one durable write (one
        SQLite transaction, one Redis MULTI): what admission commits before the first upstream call."""

    async def update(self, job: Job) -> bool:
        """Replace a record only if it still exists (atomically, indexes kept); False when it is gone."""

    async def update_claiming(self, job: Job, key: str, owner: str, ttl_s: float) -> tuple[bool, bool]:
        """:meth:`update` and the keyed value ``key`` set to ``owner`` unless another holds it (``kv_set`` with
        ``nx``), in one durable write; returns ``(updated, claimed)``: claimed when ``key`` now holds ``owner``
        (set now, or already). A segment's upstream id is saved with its claim this way
        (:mod:`gateway.jobs.reconcile`)."""

    async def get(self, job_id: str) -> Job | None: ...

    async def delete(self, job_id: str) -> bool:
        """Remove a record; True if it existed."""

    async def list(
        self, tenant: str, *, after: str | None = None, limit: int = 20, order: str = "desc"
    ) -> tuple[list[Job], bool]:
        """A tenant's jobs ordered by ``(created_at, id)``; returns ``(page, has_more)``.

        ``after`` is the id of the last item of the previous page. When that record is gone
        (deleted) or another tenant's, the page continues from the position its id encodes
        (:func:`id_position`); an ``after`` that is not a gateway id yields an empty page.
        """

    async def active_ids(self) -> list[str]:
        """Ids of every job the driver still has work on (:func:`is_active`)."""

    async def acquire_lease(self, job_id: str, owner: str, ttl_s: float) -> bool:
        """Take or extend the lease on a job; False if another live owner holds it."""

    async def release_lease(self, job_id: str, owner: str) -> None: ...

    async def kv_get(self, key: str) -> str | None: ...

    async def kv_set(self, key: str, value: str, *, ttl_s: float | None = None, nx: bool = False) -> bool:
        """Set a value; with ``nx`` only when absent. True when written."""

    async def kv_delete(self, key: str) -> None: ...

    async def kv_delete_if(self, key: str, value: str) -> bool:
        """Delete ``key`` only if it holds ``value`` (atomically); True when deleted."""

    async def doc_put(self, collection: str, doc_id: str, data: str, *, nx: bool = False) -> bool:
        """Keep a small JSON document in a named collection (webhook deliveries, feedback); with ``nx``
        only when absent. True when written."""

    async def doc_get(self, collection: str, doc_id: str) -> str | None: ...

    async def doc_delete(self, collection: str, doc_id: str) -> bool:
        """Remove a document; True if it existed."""

    async def doc_list(self, collection: str) -> list[tuple[str, str]]:
        """Every ``(id, document)`` of a collection (collections are small: pending work, ratings)."""

    async def counters_add(self, keys: list[tuple[str, float]], deltas: dict[str, float]) -> None:
        """Add ``deltas`` to the named fields of each counter of ``keys`` (atomically per field, in one round
        trip); each ``(key, ttl_s)`` expires ``ttl_s`` after its last change (the console's usage buckets,
        ``pipeline/console_stats.py``)."""

    async def counters_get(self, keys: list[str]) -> list[dict[str, float]]:
        """The fields of each counter, in order ({} for one that does not exist)."""

    async def ping(self) -> None:
        """Raise :class:`StoreError` when the store is unreachable."""

    async def close(self) -> None: ...
