"""Uploaded files age out: ``<data_dir>/uploads`` keeps only what a job may still send upstream.

A create's files are kept under ``uploads/`` (one file per request, see
:func:`gateway.faces.http.save_upload`); a refused create's are deleted at once by the face. What
remains is used by its job until the job is finished (a re-sent or retried segment reads it again).
Every ``interval_s`` one sweep deletes the files older than ``max_age_s`` that no active job names as
its ``input_reference`` or source file (and stale ``.part`` files). ``max_age_s`` must exceed the
longest admission (a file is kept a moment before its job is stored); the default is an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from gateway.observability import log
from gateway.store.base import JobStore
from gateway.tasks import cancel_and_wait


class UploadJanitor:
    def __init__(self, uploads: Path, store: JobStore, *, max_age_s: float, interval_s: float) -> None:
        self.uploads = uploads
        self.store = store
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def in_use(self) -> set[str]:
        """Paths the store's active jobs still need."""
        used: set[str] = set()
        for job_id in await self.store.active_ids():
            job = await self.store.get(job_id)
            if job is None:
                continue
            for ref in (job.requested_reference(), job.requested_source_file()):
                if ref is not None and ref.path:
                    used.add(str(Path(ref.path).resolve()))
        return used

    def _old_files(self, now: float) -> list[Path]:
        if not self.uploads.is_dir():
            return []
        old: list[Path] = []
        for path in self.uploads.iterdir():
            with contextlib.suppress(OSError):
                if path.is_file() and now - path.stat().st_mtime > self.max_age_s:
                    old.append(path)
        return old

    async def sweep(self, now: float | None = None) -> list[str]:
        """Delete old unreferenced uploads; returns their names."""
        old = await asyncio.to_thread(self._old_files, time.time() if now is None else now)
        if not old:
            return []
        used = await self.in_use()  # read after listing: a file stored meanwhile is younger than max_age_s
        removed: list[str] = []
        for path in old:
            if str(path.resolve()) in used:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path.name)
        if removed:
            log.info("uploads_swept", removed=len(removed))
        return removed

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # the store may be down; try again next time
                log.warning("uploads_sweep_failed", error=repr(exc)[:200])
            await asyncio.sleep(self.interval_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
