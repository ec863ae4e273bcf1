"""A single-file :class:`~gateway.store.base.JobStore` on stdlib ``sqlite3``.

Durability: WAL journal with ``synchronous=NORMAL`` — every committed write
survives the process being killed (``kill -9``); only a power cut may lose the
last few commits, never corrupt the file.

Concurrency: one connection owned by one dedicated thread, so the event loop
never blocks on disk and statements never interleave. Several processes may
share the file: writes that decide on what is stored (leases, ``nx`` values)
are single ``INSERT … ON CONFLICT DO UPDATE … WHERE`` statements, which SQLite
runs atomically under its write lock; the multi-statement writes (a new job with its
lease, counters) run in ``BEGIN IMMEDIATE``. ``busy_timeout`` makes a second writer wait, not fail.
Lease and value expiry use wall-clock time, shared by every process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from gateway.core.models import Job
from gateway.store.base import StoreError, Values, id_position, is_active, load_listed

T = TypeVar("T")

_SWEEP_EVERY_S = 60.0  # how often expired leases and values are deleted

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_active ON jobs (id) WHERE active = 1;
CREATE TABLE IF NOT EXISTS leases (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS counters (
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    value REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (key, field)
);
CREATE TABLE IF NOT EXISTS docs (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
"""

_PUT = """
INSERT INTO jobs (id, tenant, created_at, active, data) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, created_at = excluded.created_at,
    active = excluded.active, data = excluded.data
"""

# an expired row starts again from the delta
_COUNTER_ADD = """
INSERT INTO counters (key, field, value, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (key, field) DO UPDATE SET
    value = CASE WHEN counters.expires_at > ?5 THEN counters.value + excluded.value ELSE excluded.value END,
    expires_at = excluded.expires_at
"""

_UPDATE = "UPDATE jobs SET tenant = ?, created_at = ?, active = ?, data = ? WHERE id = ?"

# The cursor's position is its record's, or (when deleted) the one its id encodes (``:encoded_at``);
# an empty page when neither exists, and when ``after`` is the last item.
_PAGE = """
WITH cursor AS (
    SELECT COALESCE((SELECT created_at FROM jobs WHERE id = :after AND tenant = :tenant), :encoded_at) AS created_at
)
SELECT data FROM jobs, cursor
WHERE jobs.tenant = :tenant AND cursor.created_at IS NOT NULL
  AND (jobs.created_at, jobs.id) {cmp} (cursor.created_at, :after)
ORDER BY jobs.created_at {dir}, jobs.id {dir} LIMIT :n
"""
_FIRST_PAGE = "SELECT data FROM jobs WHERE tenant = :tenant ORDER BY created_at {dir}, id {dir} LIMIT :n"

_LEASE = """
INSERT INTO leases (job_id, owner, expires_at) VALUES (:id, :owner, :until)
ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at <= :now
"""

_KV_SET = """
INSERT INTO kv (key, value, expires_at) VALUES (:key, :value, :until)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE NOT :nx OR (kv.expires_at IS NOT NULL AND kv.expires_at <= :now)
"""


class SqliteStore:
    """Job records, leases and keyed values in one SQLite file."""

    def __init__(self, path: str | Path, *, url: str | None = None, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.url = url or f"sqlite:///{path}"
        self._busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._next_sweep = 0.0
        self._closed = False
        try:  # open now, so a bad path fails at start, not at the first request
            self._executor.submit(self._open).result()
        except (sqlite3.Error, OSError) as exc:
            self._executor.shutdown(wait=False)
            raise StoreError(f"cannot open {self.url}: {exc}") from exc

    # -- the thread side -------------------------------------------------

    def _open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # one transaction, so two processes creating the file at once do not race
            conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.url} is closed")
        return self._conn

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError(f"{self.url} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.url}: {exc}") from exc

    # -- jobs -------------------------------------------------------------

    async def put(self, job: Job) -> None:
        row = (job.id, job.tenant, job.created_at, int(is_active(job)), json.dumps(job.to_dict()))
        await self._run(lambda: self._db().execute(_PUT, row))

    async def update(self, job: Job) -> bool:
        row = (job.tenant, job.created_at, int(is_active(job)), json.dumps(job.to_dict()), job.id)
        return await self._run(lambda: self._db().execute(_UPDATE, row).rowcount > 0)

    async def put_held(self, job: Job, owner: str, ttl_s: float, values: Values = ()) -> None:
        """A new job's record, its lease for ``owner`` and ``values`` in one transaction (one commit)."""
        row = (job.id, job.tenant, job.created_at, int(is_active(job)), json.dumps(job.to_dict()))

        def write() -> None:
            now = time.time()
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(_PUT, row)
                db.execute(_LEASE, {"id": job.id, "owner": owner, "until": now + ttl_s, "now": now})
                for key, value, ttl in values:
                    until = now + ttl if ttl is not None else None
                    db.execute(_KV_SET, {"key": key, "value": value, "until": until, "nx": False, "now": now})
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(write)

    async def update_claiming(self, job: Job, key: str, owner: str, ttl_s: float) -> tuple[bool, bool]:
        row = (job.tenant, job.created_at, int(is_active(job)), json.dumps(job.to_dict()), job.id)

        def write() -> tuple[bool, bool]:
            now = time.time()
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                params = {"key": key, "value": owner, "until": now + ttl_s, "nx": True, "now": now}
                claimed = db.execute(_KV_SET, params).rowcount > 0
                if not claimed:
                    held = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
                    claimed = held is not None and held[0] == owner
                updated = db.execute(_UPDATE, row).rowcount > 0
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return updated, claimed

        return await self._run(write)

    async def get(self, job_id: str) -> Job | None:
        def read() -> str | None:
            row = self._db().execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return row[0] if row else None

        raw = await self._run(read)
        return Job.from_dict(json.loads(raw)) if raw is not None else None

    async def delete(self, job_id: str) -> bool:
        def remove() -> bool:
            return self._db().execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0

        return await self._run(remove)

    async def list(
        self, tenant: str, *, after: str | None = None, limit: int = 20, order: str = "desc"
    ) -> tuple[list[Job], bool]:
        desc = order == "desc"
        direction = "DESC" if desc else "ASC"
        if after is None:
            sql = _FIRST_PAGE.format(dir=direction)
        else:
            sql = _PAGE.format(cmp="<" if desc else ">", dir=direction)
        encoded = id_position(after) if after is not None else None
        params = {"tenant": tenant, "after": after, "n": limit + 1, "encoded_at": encoded[0] if encoded else None}

        def read() -> list[str]:
            return [row[0] for row in self._db().execute(sql, params)]

        rows = await self._run(read)
        return load_listed(list(rows[:limit])), len(rows) > limit

    async def active_ids(self) -> list[str]:
        def read() -> list[str]:
            return [row[0] for row in self._db().execute("SELECT id FROM jobs WHERE active = 1 ORDER BY id")]

        return await self._run(read)

    # -- leases -----------------------------------------------------------

    async def acquire_lease(self, job_id: str, owner: str, ttl_s: float) -> bool:
        def take() -> bool:
            now = time.time()
            params = {"id": job_id, "owner": owner, "until": now + ttl_s, "now": now}
            return self._db().execute(_LEASE, params).rowcount > 0

        return await self._run(take)

    async def release_lease(self, job_id: str, owner: str) -> None:
        sql = "DELETE FROM leases WHERE job_id = ? AND owner = ?"
        await self._run(lambda: self._db().execute(sql, (job_id, owner)))

    # -- keyed values -----------------------------------------------------

    async def kv_get(self, key: str) -> str | None:
        def read() -> str | None:
            sql = "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
            row = self._db().execute(sql, (key, time.time())).fetchone()
            return row[0] if row else None

        return await self._run(read)

    async def kv_set(self, key: str, value: str, *, ttl_s: float | None = None, nx: bool = False) -> bool:
        def write() -> bool:
            now = time.time()
            self._sweep(now)
            until = now + ttl_s if ttl_s is not None else None
            params = {"key": key, "value": value, "until": until, "nx": nx, "now": now}
            return self._db().execute(_KV_SET, params).rowcount > 0

        return await self._run(write)

    async def kv_delete(self, key: str) -> None:
        await self._run(lambda: self._db().execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def kv_delete_if(self, key: str, value: str) -> bool:
        sql = "DELETE FROM kv WHERE key = ? AND value = ? AND (expires_at IS NULL OR expires_at > ?)"
        return await self._run(lambda: self._db().execute(sql, (key, value, time.time())).rowcount > 0)

    # -- documents --------------------------------------------------------

    async def doc_put(self, collection: str, doc_id: str, data: str, *, nx: bool = False) -> bool:
        verb = "INSERT OR IGNORE" if nx else "INSERT OR REPLACE"
        sql = f"{verb} INTO docs (collection, id, data) VALUES (?, ?, ?)"
        return await self._run(lambda: self._db().execute(sql, (collection, doc_id, data)).rowcount > 0)

    async def doc_get(self, collection: str, doc_id: str) -> str | None:
        def read() -> str | None:
            sql = "SELECT data FROM docs WHERE collection = ? AND id = ?"
            row = self._db().execute(sql, (collection, doc_id)).fetchone()
            return row[0] if row else None

        return await self._run(read)

    async def doc_delete(self, collection: str, doc_id: str) -> bool:
        sql = "DELETE FROM docs WHERE collection = ? AND id = ?"
        return await self._run(lambda: self._db().execute(sql, (collection, doc_id)).rowcount > 0)

    async def doc_list(self, collection: str) -> list[tuple[str, str]]:
        def read() -> list[tuple[str, str]]:
            sql = "SELECT id, data FROM docs WHERE collection = ? ORDER BY id"
            return [(row[0], row[1]) for row in self._db().execute(sql, (collection,))]

        return await self._run(read)

    # -- counters ---------------------------------------------------------

    async def counters_add(self, keys: list[tuple[str, float]], deltas: dict[str, float]) -> None:
        def write() -> None:
            now = time.time()
            rows = [(key, name, float(d), now + ttl_s, now) for key, ttl_s in keys for name, d in deltas.items()]
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_COUNTER_ADD, rows)
                live = [(now + ttl_s, key, now) for key, ttl_s in keys]
                db.executemany("UPDATE counters SET expires_at = ? WHERE key = ? AND expires_at > ?", live)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(write)

    async def counters_get(self, keys: list[str]) -> list[dict[str, float]]:
        def read() -> list[dict[str, float]]:
            found: dict[str, dict[str, float]] = {key: {} for key in keys}
            marks = ",".join("?" * len(keys))
            sql = f"SELECT key, field, value FROM counters WHERE key IN ({marks}) AND expires_at > ?"
            for key, name, value in self._db().execute(sql, (*keys, time.time())):
                found[key][name] = value
            return [found[key] for key in keys]

        return await self._run(read) if keys else []

    def _sweep(self, now: float) -> None:
        """Drop expired values and leases now and then (they are already invisible)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
            db.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- lifecycle --------------------------------------------------------

    async def ping(self) -> None:
        await self._run(lambda: self._db().execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._closed:
            return
        try:
            await self._run(shut)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)
