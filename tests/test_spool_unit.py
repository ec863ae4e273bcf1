"""Finalising keeps a local copy until the content store has it (issue 21, item 7), at unit level.

A content store that refuses uploads (as a bucket that is down does) and an upstream that counts its
downloads: a refused upload is retried from the local copy, never from the upstream; a copy left by a replica
that died before recording it is used; a copy the store took before the job was saved is found in the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.content import ContentStoreError, LocalContentStore
from gateway.content.local import StoredFile
from gateway.core.models import Job, Segment, SegStatus
from gateway.jobs.finalize import fetch_and_assemble
from gateway.jobs.spool import SPOOLED
from gateway.upstreams.base import ContentStream, UpstreamError

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


class Upstream:
    """Has one finished video (and a thumbnail); ``expired`` makes every download a 404."""

    def __init__(self) -> None:
        self.downloads: list[str] = []
        self.expired = False

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        self.downloads.append(variant)
        if self.expired or variant == "spritesheet":
            raise UpstreamError(404, "not found")

        async def chunks() -> AsyncIterator[bytes]:
            yield VIDEO if variant == "video" else b"RIFF0000WEBP"

        media_type = "video/mp4" if variant == "video" else "image/webp"
        return ContentStream(200, {"content-type": media_type}, chunks())


class DownStore(LocalContentStore):
    """A content store whose uploads fail while ``down``."""

    down = True

    async def adopt(self, job_id: str, variant: str, source: Path) -> StoredFile:
        if self.down:
            raise ContentStoreError("s3://bucket: writing: connection refused")
        return await super().adopt(job_id, variant, source)


def finished_job() -> Job:
    segment = Segment(index=0, seconds=4, prompt="p", upstream_id="video_up", status=SegStatus.COMPLETED)
    return Job(id="video_" + "cd" * 24, tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4",
               segments=[segment])  # fmt: skip


async def test_a_refused_upload_is_retried_from_the_local_copy(tmp_path: Path) -> None:
    upstream, content, job = Upstream(), DownStore(tmp_path / "content"), finished_job()
    for _ in range(3):  # the store is down: the media stays local, the upstream is asked once
        with pytest.raises(ContentStoreError):
            await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    assert upstream.downloads == ["video", "thumbnail", "spritesheet"]
    assert Path(job.requested[SPOOLED]["video"]).read_bytes() == VIDEO
    upstream.expired = True  # the upstream's retention ends
    content.down = False
    await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    assert upstream.downloads == ["video", "thumbnail", "spritesheet"]  # nothing fetched again
    assert Path(job.content["video"]).read_bytes() == VIDEO and job.content["spritesheet"] == ""
    assert Path(job.content["thumbnail"]).suffix == ".webp"
    assert SPOOLED not in job.requested
    assert not [p for p in content.directory(job.id).rglob("*") if "scratch" in p.parts]  # the copies are gone


async def test_a_copy_a_dead_replica_left_unrecorded_is_used(tmp_path: Path) -> None:
    upstream, content, job = Upstream(), DownStore(tmp_path / "content"), finished_job()
    with pytest.raises(ContentStoreError):
        await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    job.requested.pop(SPOOLED)  # killed before the job was saved with its local copies
    upstream.expired, content.down = True, False
    await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    # the video and thumbnail from the copies; only the preview the upstream never had is asked for again
    assert upstream.downloads == ["video", "thumbnail", "spritesheet", "spritesheet"]
    assert Path(job.content["video"]).read_bytes() == VIDEO


async def test_a_copy_the_store_took_before_the_job_was_saved_is_found_there(tmp_path: Path) -> None:
    upstream, content, job = Upstream(), DownStore(tmp_path / "content"), finished_job()
    with pytest.raises(ContentStoreError):
        await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    content.down = False
    recorded = dict(job.requested[SPOOLED])
    await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    stored = dict(job.content)
    job.content.clear()  # killed after the uploads, before the job was saved: it still lists the copies
    job.requested[SPOOLED] = recorded
    upstream.expired = True
    await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    assert job.content == stored and upstream.downloads == ["video", "thumbnail", "spritesheet"]
