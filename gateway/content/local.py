"""Content on the local filesystem: streamed to disk, checksummed, never whole in memory.

Layout: ``<root>/<last two chars of the job id>/<job id>/<variant>.<ext>`` plus ``<file>.sha256``,
and ``<root>/.by-sha256/<sha256>/<job id>`` (empty markers): which jobs hold a video with that checksum,
so an uploaded copy of a gateway video is recognised (:meth:`LocalContentStore.jobs_with_video`).
A job whose media is another job's (a cache hit, a coalesced create) gets hard links to the
same files: no copy, and deleting or evicting either job drops only its own links, so the bytes
live as long as one job still holds them. A job directory's mtime is its last use (written,
linked or downloaded): :mod:`gateway.content.retention` evicts the least recently used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gateway.content.entries import Entry, scan
from gateway.content.ranges import is_digits
from gateway.content.scratchfile import stream_to_file
from gateway.content.space import raise_if_simulated_full
from gateway.core.models import Reference

BY_SHA256 = ".by-sha256"  # not a shard: shards are two hex characters
WRITE_BATCH = 1 << 20  # bytes gathered before one write (in a worker thread)
EXTENSIONS = {"video": "mp4", "thumbnail": "webp", "spritesheet": "jpg", "webm": "webm"}
MEDIA_TYPES = {"mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg", "webm": "video/webm", "png": "image/png"}


@dataclass(frozen=True)
class StoredFile:
    path: Path
    size: int
    sha256: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.path.suffix.lstrip("."), "application/octet-stream")

    @property
    def ref(self) -> str:
        return str(self.path)


class LocalContentStore:
    """``file://DIR``: one directory, shared by replicas only through a shared volume."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = f"file://{self.root}"
        self.on_stored: Callable[[], None] | None = None  # the retention janitor's poke
        # every write's outcome (the error or None, bytes written): the full-disk watch (content/space.py)
        self.on_write_result: Callable[[BaseException | None, int], None] | None = None

    def _write_result(self, exc: BaseException | None, size: int) -> None:
        if self.on_write_result is not None:
            self.on_write_result(exc, size)

    async def check(self) -> None:
        """The directory exists (made above); nothing else can be known before a write."""

    async def serve(self, stored: Any, range_header: str | None) -> StoredFile:
        """The file itself: the face sends it with ``Range`` and ``ETag``."""
        return stored

    async def inventory(self) -> list[Entry]:
        return await asyncio.to_thread(scan, self.root)

    async def evict(self, entry: Entry) -> None:
        await self.remove(entry.path.name)  # the job directory and its sha256 marker
        await asyncio.to_thread(shutil.rmtree, entry.path, True)  # (a directory outside the usual layout)

    async def keep_upload(self, ref: Reference) -> None:
        """Uploads stay in ``<data_dir>/uploads``: replicas share it only through a shared volume."""

    async def local_upload(self, ref: Reference) -> Reference:
        return ref

    def _stored(self) -> None:
        if self.on_stored is not None:
            self.on_stored()

    def directory(self, job_id: str) -> Path:
        return self.root / job_id[-2:] / job_id

    def path(self, job_id: str, variant: str, ext: str | None = None) -> Path:
        return self.directory(job_id) / f"{variant}.{ext or EXTENSIONS.get(variant, 'bin')}"

    async def find(self, job_id: str, variant: str) -> StoredFile | None:
        return self._find(job_id, variant)

    def _find(self, job_id: str, variant: str) -> StoredFile | None:
        directory = self.directory(job_id)
        if not directory.is_dir():
            return None
        for candidate in directory.glob(f"{variant}.*"):
            if candidate.suffix in (".part", ".sha256"):
                continue
            digest_file = candidate.with_suffix(candidate.suffix + ".sha256")
            digest = digest_file.read_text().strip() if digest_file.exists() else ""
            return StoredFile(candidate, candidate.stat().st_size, digest)
        return None

    async def write(
        self, job_id: str, variant: str, chunks: AsyncIterator[bytes], ext: str | None = None
    ) -> StoredFile:
        """Stream ``chunks`` to disk; the file appears only once complete.

        Chunks are gathered into batches of about 1 MiB; hashing, writing and the final fsync
        run in a worker thread so a slow disk never stalls the event loop.
        """
        final = self.path(job_id, variant, ext)
        part = final.with_suffix(final.suffix + f".{uuid.uuid4().hex[:8]}.part")
        digest = hashlib.sha256()
        try:
            fh = await asyncio.to_thread(_open_part, part)
        except OSError as exc:
            self._write_result(exc, 0)
            raise
        size = 0
        try:
            batch: list[bytes] = []
            pending = 0
            async for chunk in chunks:
                batch.append(chunk)
                pending += len(chunk)
                if pending >= WRITE_BATCH:
                    await asyncio.to_thread(_write_batch, fh, digest, batch)
                    size += pending
                    batch, pending = [], 0
            await asyncio.to_thread(_write_batch, fh, digest, batch)
            size += pending
            await asyncio.to_thread(_sync_close, fh)
        except BaseException as exc:
            fh.close()
            part.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                self._write_result(exc, size + pending)
            raise
        sha256 = digest.hexdigest()
        await asyncio.to_thread(self._commit, part, final, job_id, variant, sha256)
        self._write_result(None, size)
        self._stored()
        return StoredFile(final, size, sha256)

    async def adopt(self, job_id: str, variant: str, source: Path) -> StoredFile:
        """Move a file made elsewhere (a stitch, a transcode) into the store (hashed in a worker thread)."""
        final = self.path(job_id, variant, source.suffix.lstrip(".") or None)
        try:
            stored = await asyncio.to_thread(self._adopt, job_id, variant, source, final)
        except OSError as exc:
            self._write_result(exc, 0)
            raise
        self._stored()
        return stored

    async def spool(self, job_id: str, name: str, chunks: AsyncIterator[bytes]) -> Path:
        """A local copy in the job's scratch directory, counted as a write (a full disk stops admission)."""
        path = self.scratch(job_id) / name
        try:
            await asyncio.to_thread(raise_if_simulated_full)
            size = await stream_to_file(chunks, path)
        except OSError as exc:
            self._write_result(exc, 0)
            raise
        self._write_result(None, size)
        return path

    def _adopt(self, job_id: str, variant: str, source: Path, final: Path) -> StoredFile:
        digest = hashlib.sha256()
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), final)
        self._commit(None, final, job_id, variant, digest.hexdigest())
        return StoredFile(final, final.stat().st_size, digest.hexdigest())

    def _commit(self, part: Path | None, final: Path, job_id: str, variant: str, sha256: str) -> None:
        if part is not None:
            os.replace(part, final)
        final.with_suffix(final.suffix + ".sha256").write_text(sha256)
        if variant == "video":
            self._mark(sha256, job_id)

    # -- which jobs hold a video with a given sha256 ---------------------------------
    def _mark(self, sha256: str, job_id: str) -> None:
        if len(sha256) != 64:
            return
        try:
            marker = self.root / BY_SHA256 / sha256 / job_id
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # the index is a shortcut; the content is what counts
            pass

    async def jobs_with_video(self, sha256: str) -> list[str]:
        return await asyncio.to_thread(self._jobs_with_video, sha256)

    def _jobs_with_video(self, sha256: str) -> list[str]:
        """Ids of the jobs whose retained video has this sha256 (stale markers are dropped)."""
        folder = self.root / BY_SHA256 / sha256.lower()
        if len(sha256) != 64 or not folder.is_dir():
            return []
        found: list[str] = []
        for marker in sorted(folder.iterdir()):
            stored = self._find(marker.name, "video")
            if stored is not None and stored.sha256 == sha256.lower():
                found.append(marker.name)
            else:
                marker.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            if not found:
                folder.rmdir()
        return found

    async def link(self, source_id: str, target_id: str) -> dict[str, str]:
        """Give ``target_id`` the finished files of ``source_id`` (hard links); returns variant -> path.

        Empty when the source holds nothing (never fetched, evicted, deleted).
        """
        source, target = self.directory(source_id), self.directory(target_id)
        if not source.is_dir():
            return {}
        linked: dict[str, str] = {}
        for item in sorted(source.iterdir()):
            if not item.is_file() or item.suffix == ".part" or item.name.startswith("part"):
                continue
            target.mkdir(parents=True, exist_ok=True)
            dest = target / item.name
            try:
                os.link(item, dest)
            except FileExistsError:
                pass
            except FileNotFoundError:  # evicted or deleted while we looked
                continue
            except OSError:  # a filesystem without hard links
                shutil.copy2(item, dest)
            if item.suffix != ".sha256":
                linked[item.stem] = str(dest)
        video = self._find(target_id, "video") if "video" in linked else None
        if video is not None and video.sha256:
            self._mark(video.sha256, target_id)
        if linked:
            await self.touch(target_id)
            self._stored()
        return linked

    async def touch(self, job_id: str) -> None:
        """Mark a job's content as just used (the LRU clock)."""
        try:
            os.utime(self.directory(job_id))
        except OSError:
            pass

    def scratch(self, job_id: str) -> Path:
        path = self.directory(job_id) / "scratch"
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def remove(self, job_id: str) -> None:
        await asyncio.to_thread(self._remove, job_id)

    def _remove(self, job_id: str) -> None:
        video = self._find(job_id, "video")
        if video is not None and video.sha256:
            (self.root / BY_SHA256 / video.sha256 / job_id).unlink(missing_ok=True)
        shutil.rmtree(self.directory(job_id), ignore_errors=True)


def _open_part(part: Path) -> BinaryIO:
    raise_if_simulated_full()
    part.parent.mkdir(parents=True, exist_ok=True)
    return open(part, "wb")


def _write_batch(fh: BinaryIO, digest: Any, batch: list[bytes]) -> None:
    for chunk in batch:
        digest.update(chunk)
        fh.write(chunk)


def _sync_close(fh: BinaryIO) -> None:
    try:
        fh.flush()
        os.fsync(fh.fileno())
    finally:
        fh.close()


class RangeProblem(Exception):
    """A ``Range`` header the file cannot be served for: ``status`` 400 (malformed) or 416 (unsatisfiable)."""

    def __init__(self, status: int, message: str, size: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size


def check_range(header: str | None, size: int) -> None:
    """Refuse a ``Range`` header before the file response would (Starlette answers those in plain text).

    Accepted: ``bytes=`` with comma-separated ``start-end``, ``start-`` or ``-suffix`` of digits, each
    with ``start <= end`` and a start inside the file (a suffix longer than the file is the whole file).
    """
    if header is None:
        return
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        raise RangeProblem(400, f"Invalid Range {header[:64]!r}: only 'bytes=' ranges are supported.", size)
    parts = [p.strip() for p in spec.split(",")]
    if not parts or len(parts) > 100:
        raise RangeProblem(400, f"Invalid Range {header[:64]!r}: expected 1-100 byte ranges.", size)
    for part in parts:
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (not first and not last) or not all(is_digits(p) for p in (first, last) if p):
            raise RangeProblem(400, f"Invalid Range {header[:64]!r}: expected bytes=start-end.", size)
        if first and last and int(first) > int(last):
            raise RangeProblem(400, f"Invalid Range {header[:64]!r}: a range's start is after its end.", size)
        start = int(first) if first else size - min(int(last), size)
        if (not first and int(last) == 0) or start >= size:
            raise RangeProblem(416, f"Range {header[:64]!r} is not satisfiable: the file has {size} bytes.", size)
