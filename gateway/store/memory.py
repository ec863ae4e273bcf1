"""An in-process :class:`~gateway.store.base.JobStore`: dicts, for the demo and tests.

Records are kept as JSON text, so a caller mutating a returned :class:`Job`
never changes the stored one (the same isolation the other stores give).
Every method runs without awaiting, so each is atomic on the event loop.
"""

from __future__ import annotations

import bisect
import json
import time

from gateway.core.models import Job
from gateway.store.base import Values, id_position, is_active, load_listed

_Key = tuple[int, str]  # (created_at, id): the list order
_SWEEP_EVERY_S = 60.0  # how often expired keyed values are dropped


class MemoryStore:
    """Job records, leases and keyed values held in this process only."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._jobs: dict[str, str] = {}
        self._keys: dict[str, tuple[str, _Key]] = {}  # id -> (tenant, sort key)
        self._by_tenant: dict[str, list[_Key]] = {}  # kept sorted
        self._active: set[str] = set()
        self._leases: dict[str, tuple[str, float]] = {}  # id -> (owner, monotonic deadline)
        self._kv: dict[str, tuple[str, float | None]] = {}  # key -> (value, monotonic deadline)
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S  # drop expired values and leases
        self._docs: dict[str, dict[str, str]] = {}  # collection -> id -> document
        self._counters: dict[str, tuple[dict[str, float], float]] = {}  # key -> (fields, monotonic deadline)

    async def put(self, job: Job) -> None:
        self._unindex(job.id)
        self._jobs[job.id] = json.dumps(job.to_dict())
        key = (job.created_at, job.id)
        self._keys[job.id] = (job.tenant, key)
        bisect.insort(self._by_tenant.setdefault(job.tenant, []), key)
        if is_active(job):
            self._active.add(job.id)
        else:
            self._active.discard(job.id)

    async def put_held(self, job: Job, owner: str, ttl_s: float, values: Values = ()) -> None:
        await self.put(job)  # nothing below awaits anything: atomic on the event loop
        await self.acquire_lease(job.id, owner, ttl_s)
        for key, value, ttl in values:
            await self.kv_set(key, value, ttl_s=ttl)

    async def update(self, job: Job) -> bool:
        if job.id not in self._jobs:
            return False
        await self.put(job)  # no await inside: atomic on the event loop
        return True

    async def update_claiming(self, job: Job, key: str, owner: str, ttl_s: float) -> tuple[bool, bool]:
        claimed = await self.kv_set(key, owner, ttl_s=ttl_s, nx=True) or await self.kv_get(key) == owner
        return await self.update(job), claimed  # nothing awaits anything: atomic on the event loop

    async def get(self, job_id: str) -> Job | None:
        raw = self._jobs.get(job_id)
        return Job.from_dict(json.loads(raw)) if raw is not None else None

    async def delete(self, job_id: str) -> bool:
        self._unindex(job_id)
        self._active.discard(job_id)
        return self._jobs.pop(job_id, None) is not None

    async def list(
        self, tenant: str, *, after: str | None = None, limit: int = 20, order: str = "desc"
    ) -> tuple[list[Job], bool]:
        ascending = self._by_tenant.get(tenant, [])
        keys = ascending[::-1] if order == "desc" else ascending
        start = 0
        if after is not None:
            entry = self._keys.get(after)
            cursor = entry[1] if entry is not None and entry[0] == tenant else id_position(after)
            if cursor is None:
                return [], False
            if order == "desc":
                start = len(keys) - bisect.bisect_left(ascending, cursor)
            else:
                start = bisect.bisect_right(ascending, cursor)
        page = keys[start : start + limit + 1]
        jobs = load_listed([self._jobs[job_id] for _, job_id in page[:limit]])
        return jobs, len(page) > limit

    async def active_ids(self) -> list[str]:
        return sorted(self._active)

    async def acquire_lease(self, job_id: str, owner: str, ttl_s: float) -> bool:
        now = time.monotonic()
        held = self._leases.get(job_id)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._leases[job_id] = (owner, now + ttl_s)
        return True

    async def release_lease(self, job_id: str, owner: str) -> None:
        held = self._leases.get(job_id)
        if held is not None and held[0] == owner:
            del self._leases[job_id]

    async def kv_get(self, key: str) -> str | None:
        entry = self._kv.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= time.monotonic():
            del self._kv[key]
            return None
        return entry[0]

    async def kv_set(self, key: str, value: str, *, ttl_s: float | None = None, nx: bool = False) -> bool:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY_S
            self._kv = {k: e for k, e in self._kv.items() if e[1] is None or e[1] > now}
            self._leases = {k: e for k, e in self._leases.items() if e[1] > now}
            self._counters = {k: e for k, e in self._counters.items() if e[1] > now}
        if nx and await self.kv_get(key) is not None:
            return False
        self._kv[key] = (value, now + ttl_s if ttl_s is not None else None)
        return True

    async def kv_delete(self, key: str) -> None:
        self._kv.pop(key, None)

    async def kv_delete_if(self, key: str, value: str) -> bool:
        if await self.kv_get(key) != value:  # kv_get never awaits anything: atomic
            return False
        del self._kv[key]
        return True

    async def doc_put(self, collection: str, doc_id: str, data: str, *, nx: bool = False) -> bool:
        docs = self._docs.setdefault(collection, {})
        if nx and doc_id in docs:
            return False
        docs[doc_id] = data
        return True

    async def doc_get(self, collection: str, doc_id: str) -> str | None:
        return self._docs.get(collection, {}).get(doc_id)

    async def doc_delete(self, collection: str, doc_id: str) -> bool:
        return self._docs.get(collection, {}).pop(doc_id, None) is not None

    async def doc_list(self, collection: str) -> list[tuple[str, str]]:
        return sorted(self._docs.get(collection, {}).items())

    async def counters_add(self, keys: list[tuple[str, float]], deltas: dict[str, float]) -> None:
        now = time.monotonic()
        for key, ttl_s in keys:
            fields, until = self._counters.get(key, ({}, now))
            if until <= now:
                fields = {}
            for name, delta in deltas.items():
                fields[name] = fields.get(name, 0.0) + delta
            self._counters[key] = (fields, now + ttl_s)

    async def counters_get(self, keys: list[str]) -> list[dict[str, float]]:
        now = time.monotonic()
        found = [self._counters.get(key) for key in keys]
        return [dict(entry[0]) if entry is not None and entry[1] > now else {} for entry in found]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _unindex(self, job_id: str) -> None:
        entry = self._keys.pop(job_id, None)
        if entry is None:
            return
        tenant, key = entry
        keys = self._by_tenant[tenant]
        keys.pop(bisect.bisect_left(keys, key))
        if not keys:
            del self._by_tenant[tenant]
