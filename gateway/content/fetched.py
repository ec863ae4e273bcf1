"""Local copies of uploads fetched from a shared store: ``<work_dir>/scratch/uploads/<sha256>``.

An S3 replica sends an upload it did not receive by fetching ``uploads/<sha256>`` from the bucket
(:meth:`gateway.content.s3.S3ContentStore.local_upload`). Those copies live apart from
``<data_dir>/uploads``: that folder's janitor (:mod:`gateway.pipeline.uploads`) deletes files no job
names, and no job names a fetched copy, so a copy there could vanish between its fetch and the adapter
reading it. Here each use refreshes the copy's mtime, and a sweep (at most once per ``sweep_every_s``,
run by the next fetch) deletes copies unused for ``max_age_s`` and stale ``.part`` files. A copy swept
while its job still runs costs only a fetch again: the bucket keeps the upload itself.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

MAX_AGE_S = 24 * 3600.0  # far beyond any one send: a job re-fetches (and so refreshes) before each send
SWEEP_EVERY_S = 600.0


class FetchedUploads:
    def __init__(self, directory: Path, *, max_age_s: float = MAX_AGE_S, sweep_every_s: float = SWEEP_EVERY_S) -> None:
        self.directory = directory
        self.max_age_s = max_age_s
        self.sweep_every_s = sweep_every_s
        self._swept = 0.0
        self._lock = threading.Lock()  # a reuse and a sweep never interleave: a refreshed copy is never deleted

    def path(self, sha256: str) -> Path:
        return self.directory / sha256

    def reuse(self, sha256: str) -> Path | None:
        """The copy if there, its mtime refreshed (a use keeps it off the age rule); else ``None``."""
        path = self.path(sha256)
        with self._lock:
            try:
                os.utime(path)
            except OSError:
                return None
        return path

    def sweep(self, now: float | None = None, *, force: bool = False) -> list[str]:
        """Delete copies unused for ``max_age_s``; returns their names. Skipped if one ran recently."""
        now = time.time() if now is None else now
        if not force and now - self._swept < self.sweep_every_s:
            return []
        self._swept = now
        removed: list[str] = []
        if not self.directory.is_dir():
            return removed
        with self._lock:
            for path in self.directory.iterdir():
                with contextlib.suppress(OSError):
                    if path.is_file() and now - path.stat().st_mtime > self.max_age_s:
                        path.unlink()
                        removed.append(path.name)
        return removed
