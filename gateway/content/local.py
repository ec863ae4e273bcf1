"""Content on the local filesystem: streamed to disk, checksummed, never whole in memory.

Layout: ``<root>/<last two chars of the job id>/<job id>/<variant>.<ext>`` plus ``<file>.sha256``.
A job whose media is another job's (a cache hit, a coalesced create) gets hard links to the
same files: no copy, and deleting or evicting either job drops only its own links, so the bytes
live as long as one job still holds them. A job directory's mtime is its last use (written,
linked or downloaded): :mod:`gateway.content.retention` evicts the least recently used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

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


class LocalContentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.on_stored: Callable[[], None] | None = None  # the retention janitor's poke

    def _stored(self) -> None:
        if self.on_stored is not None:
            self.on_stored()

    def directory(self, job_id: str) -> Path:
        return self.root / job_id[-2:] / job_id

    def path(self, job_id: str, variant: str, ext: str | None = None) -> Path:
        return self.directory(job_id) / f"{variant}.{ext or EXTENSIONS.get(variant, 'bin')}"

    def find(self, job_id: str, variant: str) -> StoredFile | None:
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
        """Stream ``chunks`` to disk; the file appears only once complete."""
        final = self.path(job_id, variant, ext)
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_suffix(final.suffix + ".part")
        digest = hashlib.sha256()
        size = 0
        with open(part, "wb") as fh:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, final)
        final.with_suffix(final.suffix + ".sha256").write_text(digest.hexdigest())
        self._stored()
        return StoredFile(final, size, digest.hexdigest())

    def adopt(self, job_id: str, variant: str, source: Path) -> StoredFile:
        """Move a file made elsewhere (a stitch, a transcode) into the store."""
        final = self.path(job_id, variant, source.suffix.lstrip(".") or None)
        final.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        shutil.move(str(source), final)
        final.with_suffix(final.suffix + ".sha256").write_text(digest.hexdigest())
        self._stored()
        return StoredFile(final, final.stat().st_size, digest.hexdigest())

    def link(self, source_id: str, target_id: str) -> dict[str, str]:
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
        if linked:
            self.touch(target_id)
            self._stored()
        return linked

    def touch(self, job_id: str) -> None:
        """Mark a job's content as just used (the LRU clock)."""
        try:
            os.utime(self.directory(job_id))
        except OSError:
            pass

    def scratch(self, job_id: str) -> Path:
        path = self.directory(job_id) / "scratch"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.directory(job_id), ignore_errors=True)
