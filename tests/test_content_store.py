"""The content-store contract, run on both backends: ``file://`` (a directory) and ``s3://`` (a real
S3-compatible server, moto's server mode, spoken to over HTTP by obstore)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.content import ContentStore, ContentStoreError, LocalContentStore, StoredFile, open_content
from gateway.content.local import RangeProblem
from gateway.content.retention import ContentJanitor
from gateway.content.s3 import S3ContentStore
from gateway.core.models import Reference
from gateway.upstreams.base import ContentStream
from tests.s3server import S3Server


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ContentStore:
    if request.param == "file":
        return open_content(None, str(tmp_path / "data"))
    server: S3Server = request.getfixturevalue("s3_server")
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return open_content(f"s3://{server.new_bucket()}/gw", str(tmp_path / "data"))


async def chunks_of(data: bytes, size: int = 300_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(store: ContentStore, job_id: str, variant: str, range_header: str | None = None) -> bytes:
    stored = await store.find(job_id, variant)
    assert stored is not None
    served = await store.serve(stored, range_header)
    if isinstance(served, StoredFile):
        data = served.path.read_bytes()
        if range_header:
            first, last = range_header.removeprefix("bytes=").split("-")
            return data[int(first) : int(last) + 1]
        return data
    assert isinstance(served, ContentStream)
    return b"".join([chunk async for chunk in served.chunks])


def job(n: int) -> str:
    return f"video_{n:048x}"


async def test_write_find_serve_range_and_etag(backend: ContentStore) -> None:
    data = os.urandom(9 * 1024 * 1024 + 123)  # more than one multipart part
    stored = await backend.write(job(1), "video", chunks_of(data), "mp4")
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    found = await backend.find(job(1), "video")
    assert found is not None and found.sha256 == stored.sha256 and found.size == len(data)
    assert found.media_type == "video/mp4"
    assert await read_all(backend, job(1), "video") == data
    assert await read_all(backend, job(1), "video", "bytes=100-199") == data[100:200]
    if isinstance(backend, S3ContentStore):
        served = await backend.serve(found, "bytes=100-199")
        assert isinstance(served, ContentStream) and served.status == 206
        assert served.headers["content-range"] == f"bytes 100-199/{len(data)}"
        assert served.headers["etag"] == f'"{stored.sha256}"'
        await served.close()
        with pytest.raises(RangeProblem) as refused:
            await backend.serve(found, f"bytes={len(data)}-")
        assert refused.value.status == 416
    assert await backend.find(job(1), "thumbnail") is None
    assert await backend.find(job(2), "video") is None


async def test_a_write_cut_off_leaves_nothing_visible(backend: ContentStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        for _ in range(12):  # 12 MiB: a multipart upload is under way when the source breaks
            yield os.urandom(1 << 20)
        raise ConnectionResetError("the upstream went away")

    with pytest.raises(ConnectionResetError):
        await backend.write(job(3), "video", broken(), "mp4")
    assert await backend.find(job(3), "video") is None
    assert [e for e in await backend.inventory() if e.path.name == job(3) and e.inodes] == []


async def test_adopt_link_sha_index_and_remove(backend: ContentStore, tmp_path: Path) -> None:
    made = backend.scratch(job(4)) / "video.mp4"
    made.write_bytes(b"stitched" * 1000)
    stored = await backend.adopt(job(4), "video", made)
    assert not made.exists() and stored.sha256 == hashlib.sha256(b"stitched" * 1000).hexdigest()
    await backend.write(job(4), "thumbnail", chunks_of(b"thumb"), "webp")
    linked = await backend.link(job(4), job(5))
    assert set(linked) == {"video", "thumbnail"}
    assert await read_all(backend, job(5), "video") == b"stitched" * 1000
    assert await backend.jobs_with_video(stored.sha256) == sorted([job(4), job(5)])
    await backend.remove(job(4))
    assert await backend.find(job(4), "video") is None
    assert await backend.jobs_with_video(stored.sha256) == [job(5)]  # the copy lives on
    assert await read_all(backend, job(5), "thumbnail") == b"thumb"
    assert await backend.link(job(4), job(6)) == {}  # nothing left to share


async def test_uploads_reach_another_replica(backend: ContentStore, tmp_path: Path) -> None:
    upload = tmp_path / "replica-1" / "uploads" / "ref.png"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"\x89PNG reference bytes")
    sha = hashlib.sha256(upload.read_bytes()).hexdigest()
    ref = Reference(filename="ref.png", content_type="image/png", path=str(upload), sha256=sha)
    await backend.keep_upload(ref)
    if isinstance(backend, LocalContentStore):  # a shared volume is what file:// relies on
        assert await backend.local_upload(ref) == ref
        return
    assert isinstance(backend, S3ContentStore)
    other = S3ContentStore(backend.url, work_dir=tmp_path / "replica-2")
    upload.unlink()  # replica 2 never had the file
    local = await other.local_upload(ref)
    assert local.path != ref.path and Path(str(local.path)).read_bytes() == b"\x89PNG reference bytes"
    assert replace(local, path=ref.path) == ref


async def test_s3_fetched_uploads_are_out_of_the_upload_janitors_reach(s3_server: S3Server, tmp_path: Path) -> None:
    """In S3 mode work_dir is data_dir: a fetched copy in ``uploads/`` would be swept by the upload janitor
    (no job names it); it lives in ``scratch/uploads`` instead, under its own age rule refreshed by each use."""
    from gateway.pipeline.uploads import UploadJanitor
    from gateway.store import open_store

    bucket = s3_server.new_bucket()
    first = S3ContentStore(f"s3://{bucket}/gw", work_dir=tmp_path / "replica-1", env=s3_server.env())
    upload = tmp_path / "replica-1" / "uploads" / "ref.png"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"\x89PNG fetched by the other replica")
    sha = hashlib.sha256(upload.read_bytes()).hexdigest()
    ref = Reference(filename="ref.png", content_type="image/png", path=str(upload), sha256=sha)
    await first.keep_upload(ref)
    upload.unlink()

    data_dir = tmp_path / "replica-2"
    other = S3ContentStore(f"s3://{bucket}/gw", work_dir=data_dir, env=s3_server.env())
    local = Path(str((await other.local_upload(ref)).path))
    assert local == data_dir / "scratch" / "uploads" / sha and local.read_bytes().startswith(b"\x89PNG fetched")
    (data_dir / "uploads").mkdir(exist_ok=True)
    (data_dir / "uploads" / "stale.png").write_bytes(b"old")
    later = time.time() + 7200  # two hours on: past the upload janitor's hour, inside the copies' day
    janitor = UploadJanitor(data_dir / "uploads", open_store("memory://"), max_age_s=3600, interval_s=60)
    assert await janitor.sweep(now=later) == ["stale.png"]  # the janitor works, and never sees the copy
    assert local.exists()
    assert other.fetched.sweep(now=later, force=True) == [] and local.exists()

    os.utime(local, (time.time() - 2 * 86400, time.time() - 2 * 86400))  # unused for two days
    again = await other.local_upload(ref)  # a use refreshes it: the age rule counts from the last use
    assert Path(str(again.path)) == local and time.time() - local.stat().st_mtime < 600
    os.utime(local, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    assert other.fetched.sweep(force=True) == [sha] and not local.exists()
    refetched = await other.local_upload(ref)  # swept: fetched again from the bucket
    assert Path(str(refetched.path)).read_bytes() == b"\x89PNG fetched by the other replica"


async def test_janitor_keeps_the_budget_on_the_backend(backend: ContentStore) -> None:
    # S3's LastModified has one-second resolution: steps a second apart make the order of use certain
    step = 1.1 if isinstance(backend, S3ContentStore) else 0.0
    for job_id in (job(10), job(11), job(12)):
        await backend.write(job_id, "video", chunks_of(os.urandom(3000)), "mp4")
        await asyncio.sleep(step)
    await backend.touch(job(10))  # used after the others were written: the most recent
    if isinstance(backend, LocalContentStore):  # directory mtimes are the clock: make the order explicit
        for age, job_id in ((30, job(11)), (20, job(12)), (0, job(10))):
            stamp = os.path.getmtime(backend.directory(job_id)) - age
            os.utime(backend.directory(job_id), (stamp, stamp))
    before = await backend.inventory()
    assert sum(sum(e.inodes.values()) for e in before) >= 9000
    janitor = ContentJanitor(backend, max_bytes=7000, max_age_s=0)
    evicted = await janitor.sweep()
    after = await backend.inventory()
    assert evicted == [job(11)]  # the least recently used: written first, never touched
    remaining = sum(sum(e.inodes.values()) for e in after)
    assert remaining <= 7000 and {e.path.name for e in after if e.finished} == {job(10), job(12)}
    assert await backend.find(job(11), "video") is None
    assert janitor.status()["ok"] is True


async def test_s3_objects_on_the_bucket_before_and_after_the_janitor(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    store = S3ContentStore(f"s3://{bucket}/kept", work_dir=tmp_path, env=s3_server.env())
    for n in range(6):
        await store.write(job(20 + n), "video", chunks_of(os.urandom(10_000)), "mp4")
    listed = s3_server.objects(bucket, "kept/")
    media = {k: v for k, v in listed.items() if k.endswith("/video")}
    assert len(media) == 6 and sum(media.values()) == 60_000
    evicted = await ContentJanitor(store, max_bytes=35_000, max_age_s=0).sweep()
    media_after = {k: v for k, v in s3_server.objects(bucket, "kept/").items() if k.endswith("/video")}
    assert len(evicted) == 3 and len(media_after) == 3 and sum(media_after.values()) == 30_000
    assert not any(job_id in key for job_id in evicted for key in s3_server.objects(bucket))


async def test_s3_presigned_redirect(s3_server: S3Server, tmp_path: Path) -> None:
    import httpx

    store = S3ContentStore(f"s3://{s3_server.new_bucket()}", work_dir=tmp_path, presign_s=60, env=s3_server.env())
    await store.write(job(30), "video", chunks_of(b"presigned bytes"), "mp4")
    found = await store.find(job(30), "video")
    assert found is not None
    served = await store.serve(found, None)
    assert served is not None and not isinstance(served, ContentStream | StoredFile)
    async with httpx.AsyncClient() as http:  # the bucket checks the signature; no credentials sent
        assert (await http.get(served.url)).content == b"presigned bytes"


async def test_s3_missing_bucket_or_endpoint_is_a_clear_error(s3_server: S3Server, tmp_path: Path) -> None:
    missing = S3ContentStore("s3://no-such-bucket-here", work_dir=tmp_path, env=s3_server.env())
    with pytest.raises(ContentStoreError, match="the bucket does not exist"):
        await missing.check()
    await S3ContentStore(f"s3://{s3_server.new_bucket()}", work_dir=tmp_path, env=s3_server.env()).check()
    dead = {**s3_server.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    with pytest.raises(ContentStoreError) as err:
        await S3ContentStore("s3://any-bucket", work_dir=tmp_path, env=dead).check()
    assert "testing-secret" not in str(err.value)


WRITER = """
import asyncio, os, sys
from pathlib import Path
from gateway.content.s3 import S3ContentStore

async def source():
    for _ in range(20):  # 20 MiB: two 8 MiB parts go up, then the source stalls
        yield os.urandom(1 << 20)
    print("parts sent", flush=True)
    await asyncio.sleep(3600)
    yield b""

store = S3ContentStore(sys.argv[1], work_dir=Path(sys.argv[2]))
asyncio.run(store.write(sys.argv[3], "video", source(), "mp4"))
"""


def test_s3_a_process_killed_mid_upload_leaves_no_object(s3_server: S3Server, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.procs import wait_for

    bucket = s3_server.new_bucket()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, f"s3://{bucket}/kept", str(tmp_path), job(40)],
        env={**os.environ, **s3_server.env()},
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == b"parts sent"
        client = s3_server.client()
        # the multipart upload is under way: its parts reached the server
        wait_for(lambda: bool(client.list_multipart_uploads(Bucket=bucket).get("Uploads")), "an upload in progress")
        upload = client.list_multipart_uploads(Bucket=bucket)["Uploads"][0]
        wait_for(
            lambda: (
                len(client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", []))
                >= 2
            ),
            "two parts uploaded",
        )
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert s3_server.objects(bucket) == {}  # nothing visible: an incomplete upload is no object
    store = S3ContentStore(f"s3://{bucket}/kept", work_dir=tmp_path, env=s3_server.env())
    assert await_find(store, job(40)) is None


def await_find(store: S3ContentStore, job_id: str) -> object:
    return asyncio.run(store.find(job_id, "video"))
