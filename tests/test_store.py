"""One contract suite over every JobStore backend (memory, sqlite, real Redis), plus backend specifics."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import uuid
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from gateway.core.models import Job, Segment, SegStatus, Status
from gateway.store import JobStore, StoreError, open_store
from gateway.store.memory import MemoryStore
from gateway.store.redis_store import RedisStore
from gateway.store.sqlite import SqliteStore
from tests.conftest import drop_redis_prefix
from tests.procs import REDIS_URL, require_redis

ROOT = Path(__file__).resolve().parents[1]


def make_job(job_id: str, tenant: str = "acme", created_at: int = 100, **fields: Any) -> Job:
    return Job(
        id=job_id,
        tenant=tenant,
        model="sora-2",
        prompt="a cat",
        size="720x1280",
        seconds="4",
        created_at=created_at,
        **fields,
    )


async def test_put_get_round_trip(store: JobStore) -> None:
    job = make_job(
        "video_1",
        status=Status.IN_PROGRESS,
        progress=40,
        adapted=["seconds=20->12+8"],
        requested={"seconds": "20", "size": "1920x1080"},
        cost_usd=2.0,
        segments=[
            Segment(index=0, seconds=12, prompt="a cat", upstream_id="up_1", status=SegStatus.COMPLETED),
            Segment(index=1, seconds=8, prompt="a cat", status=SegStatus.PENDING, error={"code": "x"}),
        ],
    )
    await store.put(job)
    got = await store.get("video_1")
    assert got is not None and got.to_dict() == job.to_dict()
    assert got.segments[0].status is SegStatus.COMPLETED and got.status is Status.IN_PROGRESS
    assert await store.get("video_missing") is None


async def test_put_replaces_whole_record(store: JobStore) -> None:
    job = make_job("video_1", segments=[Segment(index=0, seconds=4, prompt="p")])
    await store.put(job)
    job.status, job.progress, job.segments = Status.COMPLETED, 100, []
    await store.put(job)
    got = await store.get("video_1")
    assert got is not None and got.status is Status.COMPLETED and got.progress == 100 and got.segments == []
    assert [j.id for j in (await store.list("acme"))[0]] == ["video_1"]


async def test_delete(store: JobStore) -> None:
    await store.put(make_job("video_1"))
    await store.put(make_job("video_2"))
    assert await store.delete("video_1") is True
    assert await store.delete("video_1") is False
    assert await store.get("video_1") is None
    assert [j.id for j in (await store.list("acme"))[0]] == ["video_2"]


ORDERED = ["a", "b", "c", "d", "e"]  # ascending by (created_at, id)


async def put_listing(store: JobStore) -> None:
    for job_id, created in [("e", 102), ("b", 100), ("c", 101), ("a", 100), ("d", 102)]:
        await store.put(make_job(job_id, created_at=created))


async def pages(store: JobStore, order: str, limit: int) -> list[tuple[list[str], bool]]:
    out: list[tuple[list[str], bool]] = []
    after: str | None = None
    while True:
        jobs, more = await store.list("acme", after=after, limit=limit, order=order)
        out.append(([j.id for j in jobs], more))
        if not more:
            return out
        after = jobs[-1].id


async def test_list_order(store: JobStore) -> None:
    await put_listing(store)
    asc, more = await store.list("acme", order="asc")
    assert [j.id for j in asc] == ORDERED and more is False
    desc, more = await store.list("acme")  # desc is the default
    assert [j.id for j in desc] == ORDERED[::-1] and more is False


async def test_list_pagination(store: JobStore) -> None:
    await put_listing(store)
    assert await pages(store, "asc", 2) == [(["a", "b"], True), (["c", "d"], True), (["e"], False)]
    assert await pages(store, "desc", 2) == [(["e", "d"], True), (["c", "b"], True), (["a"], False)]
    jobs, more = await store.list("acme", after="c", limit=2, order="asc")
    assert [j.id for j in jobs] == ["d", "e"] and more is False
    assert await store.list("acme", after="e", order="asc") == ([], False)
    assert await store.list("acme", after="a", order="desc") == ([], False)


async def test_tenant_isolation_and_unknown_after(store: JobStore) -> None:
    await put_listing(store)
    await store.put(make_job("z", tenant="globex", created_at=101))
    assert [j.id for j in (await store.list("globex"))[0]] == ["z"]
    assert "z" not in [j.id for j in (await store.list("acme", limit=100))[0]]
    assert await store.list("nobody") == ([], False)
    assert await store.list("acme", after="no-such-id") == ([], False)
    assert await store.list("acme", after="z") == ([], False)  # another tenant's id is unknown here


async def test_active_ids_follow_status(store: JobStore) -> None:
    await store.put(make_job("q", status=Status.QUEUED))
    await store.put(make_job("p", status=Status.IN_PROGRESS))
    await store.put(make_job("done", status=Status.COMPLETED))
    assert sorted(await store.active_ids()) == ["p", "q"]
    await store.put(make_job("q", status=Status.COMPLETED))
    await store.put(make_job("p", status=Status.FAILED))
    await store.put(make_job("done", status=Status.IN_PROGRESS))  # e.g. an extension restarts it
    assert await store.active_ids() == ["done"]
    await store.delete("done")
    assert await store.active_ids() == []


async def test_update_replaces_only_an_existing_record(store: JobStore) -> None:
    job = make_job("video_1", status=Status.IN_PROGRESS)
    assert await store.update(job) is False  # never inserts
    assert await store.get("video_1") is None and await store.active_ids() == []
    assert await store.list("acme") == ([], False)
    await store.put(job)
    job.status, job.progress = Status.COMPLETED, 100
    assert await store.update(job) is True
    got = await store.get("video_1")
    assert got is not None and got.status is Status.COMPLETED and got.progress == 100
    assert await store.active_ids() == []  # indexes follow the update
    assert [j.id for j in (await store.list("acme"))[0]] == ["video_1"]
    job.requested["events_pending"] = True  # finished, listeners not run yet: still the driver's
    assert await store.update(job) is True
    assert await store.active_ids() == ["video_1"]
    assert await store.delete("video_1") is True
    assert await store.update(job) is False  # a deleted record is not brought back
    assert await store.get("video_1") is None and await store.active_ids() == []
    assert await store.list("acme") == ([], False)


async def test_kv_delete_if(store: JobStore) -> None:
    await store.kv_set("k", "a")
    assert await store.kv_delete_if("k", "b") is False
    assert await store.kv_get("k") == "a"
    assert await store.kv_delete_if("k", "a") is True
    assert await store.kv_get("k") is None
    assert await store.kv_delete_if("k", "a") is False
    await store.kv_set("t", "x", ttl_s=0.1)
    await asyncio.sleep(0.2)
    assert await store.kv_delete_if("t", "x") is False  # expired: nothing to delete
    assert await store.kv_set("t", "y", nx=True) is True


async def test_lease_exclusive_and_extend(store: JobStore) -> None:
    assert await store.acquire_lease("j", "a", 0.3) is True
    assert await store.acquire_lease("j", "b", 0.3) is False
    await asyncio.sleep(0.2)
    assert await store.acquire_lease("j", "a", 5) is True  # ours: extended
    await asyncio.sleep(0.2)
    assert await store.acquire_lease("j", "b", 0.3) is False  # past the first ttl, still held
    assert await store.acquire_lease("other-job", "b", 0.3) is True


async def test_lease_expiry_and_release(store: JobStore) -> None:
    assert await store.acquire_lease("j", "a", 0.2) is True
    await asyncio.sleep(0.3)
    assert await store.acquire_lease("j", "b", 5) is True  # a's lease expired
    assert await store.acquire_lease("j", "a", 5) is False
    await store.release_lease("j", "a")  # not a's: no effect
    assert await store.acquire_lease("j", "a", 5) is False
    await store.release_lease("j", "b")
    assert await store.acquire_lease("j", "a", 5) is True
    await store.release_lease("never-leased", "a")


async def test_kv(store: JobStore) -> None:
    assert await store.kv_get("k") is None
    assert await store.kv_set("k", "1") is True
    assert await store.kv_set("k", "2", nx=True) is False
    assert await store.kv_get("k") == "1"
    assert await store.kv_set("k", "3") is True
    assert await store.kv_get("k") == "3"
    await store.kv_delete("k")
    await store.kv_delete("k")
    assert await store.kv_get("k") is None
    assert await store.kv_set("k", "4", nx=True) is True


async def test_kv_ttl(store: JobStore) -> None:
    assert await store.kv_set("t", "x", ttl_s=0.2, nx=True) is True
    assert await store.kv_set("t", "y", nx=True) is False
    assert await store.kv_get("t") == "x"
    await asyncio.sleep(0.3)
    assert await store.kv_get("t") is None
    assert await store.kv_set("t", "z", nx=True) is True
    assert await store.kv_get("t") == "z"


KILLED_WRITER = """
import asyncio, os, signal, sys
from gateway.core.models import Job
from gateway.store.sqlite import SqliteStore

async def main():
    store = SqliteStore(sys.argv[1])
    await store.put(Job(id="killed", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4"))
    await store.kv_set("k", "v")
    assert await store.acquire_lease("killed", "child", 60)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""

LEASE_RACER = """
import asyncio, sys, time
from gateway.store.sqlite import SqliteStore

async def main():
    store = SqliteStore(sys.argv[1])
    await asyncio.sleep(max(0.0, float(sys.argv[3]) - time.time()))
    print(await store.acquire_lease("contested", sys.argv[2], 30))

asyncio.run(main())
"""


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    first = SqliteStore(path)
    await first.put(make_job("video_1", status=Status.IN_PROGRESS))
    await first.kv_set("k", "v")
    await first.close()
    again = SqliteStore(path)
    assert (job := await again.get("video_1")) is not None and job.status is Status.IN_PROGRESS
    assert await again.active_ids() == ["video_1"] and await again.kv_get("k") == "v"
    await again.close()
    with pytest.raises(StoreError):
        await again.get("video_1")


async def test_sqlite_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED_WRITER, str(path), cwd=ROOT)
    assert await asyncio.wait_for(child.wait(), 60) == -signal.SIGKILL
    store = SqliteStore(path)
    assert (job := await store.get("killed")) is not None and job.tenant == "acme"
    assert await store.kv_get("k") == "v"
    assert await store.acquire_lease("killed", "parent", 1) is False  # the dead child's lease is live
    await store.close()


async def test_sqlite_lease_is_atomic_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    await SqliteStore(path).close()  # create the schema before the race
    start = str(time.time() + 2.0)
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", LEASE_RACER, str(path), f"owner-{i}", start, cwd=ROOT, stdout=PIPE
        )
        for i in range(6)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(r.communicate() for r in racers)), 60)
    assert sorted(out.decode().strip() for out, _ in outputs) == ["False"] * 5 + ["True"]


class TcpProxy:
    """Forwards a local port to Redis; stopping it looks like Redis going away."""

    def __init__(self) -> None:
        parts = urlsplit(REDIS_URL)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


async def test_redis_unreachable_raises_store_error() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", connect_timeout=0.5, socket_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(StoreError):
        await store.ping()
    for call in (
        store.get("x"),
        store.put(make_job("x")),
        store.list("acme"),
        store.active_ids(),
        store.acquire_lease("x", "a", 1),
        store.kv_set("k", "v"),
    ):
        with pytest.raises(StoreError):
            await call
    assert time.monotonic() - started < 10
    await store.close()


async def test_redis_recovers_after_outage() -> None:
    require_redis()
    prefix = f"test-{uuid.uuid4().hex}"
    proxy = TcpProxy()
    await proxy.start()
    db = urlsplit(REDIS_URL).path or "/0"
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}{db}", prefix=prefix, socket_timeout=1)
    try:
        await store.put(make_job("video_1"))
        await proxy.stop()
        with pytest.raises(StoreError):
            await store.get("video_1")
        await proxy.start()  # same port: Redis is back
        assert (job := await store.get("video_1")) is not None and job.id == "video_1"
    finally:
        await store.close()
        await proxy.stop()
        await drop_redis_prefix(prefix)


async def test_redis_job_keys_share_one_hash_tag() -> None:
    require_redis()
    prefix = f"test-{uuid.uuid4().hex}"
    store = RedisStore(REDIS_URL, prefix=prefix)
    await store.put(make_job("video_1"))
    await store.acquire_lease("video_1", "a", 5)
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = {k async for k in client.scan_iter(match=f"*{prefix}*")}
    tag = "{" + prefix + "}"
    assert keys == {f"{tag}:job:video_1", f"{tag}:tenant:acme", f"{tag}:active", f"{prefix}:lease:video_1"}
    await client.aclose()
    await store.close()
    await drop_redis_prefix(prefix)


async def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_store("memory://"), MemoryStore)
    relative = open_store("sqlite:///data/gw.db")
    assert isinstance(relative, SqliteStore) and (tmp_path / "data" / "gw.db").exists()
    absolute = open_store(f"sqlite:///{tmp_path / 'abs' / 'gw.db'}")  # four slashes
    assert isinstance(absolute, SqliteStore) and (tmp_path / "abs" / "gw.db").exists()
    shared = open_store("redis://:hunter2@127.0.0.1:6379/3?prefix=team")
    assert isinstance(shared, RedisStore) and shared.prefix == "team"
    assert shared.url == "redis://***@127.0.0.1:6379/3?prefix=team" and "hunter2" not in shared.url
    for store in (relative, absolute, shared):
        await store.close()


@pytest.mark.parametrize(
    "url", ["postgres://db/x", "sqlite://relative.db", "sqlite:///", "memory://x", "redis://h:6379/0?bogus=1", ""]
)
def test_open_store_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="store URL"):
        open_store(url)
