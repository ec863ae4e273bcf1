"""Keep retained content under a size and age budget, evicting the least recently used jobs.

The files outlive the upstream's own expiry (about an hour): they stay until a job's content
has not been used (written, shared with a cache hit, or downloaded) for ``max_age_s``, or until
the store is over ``max_bytes`` and the job is among the least recently used. Bytes are counted
per inode, so a video shared by hard links (cache hits, coalesced creates) counts once and is
freed only when its last job lets go of it. A job still being fetched or stitched (a ``.part``
file or a ``scratch`` directory) is never evicted for size.

A download of evicted content falls back to the upstream while it still has the video, else
the client gets a 410 (``gateway.pipeline.service``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import Counter, Gauge

from gateway.content.local import LocalContentStore
from gateway.observability import REGISTRY, log

P = "sora_gateway_"
CONTENT_BYTES = Gauge(
    P + "content_bytes",
    "Bytes of retained content (after the last sweep)",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
EVICTIONS = Counter(
    P + "content_evictions_total", "Jobs whose retained content was evicted", ["reason"], registry=REGISTRY
)
Inode = tuple[int, int]


@dataclass
class Entry:
    """One job's content directory."""

    path: Path
    used: float  # directory mtime: last write, link or download
    inodes: dict[Inode, int] = field(default_factory=dict)  # (device, inode) -> size
    busy: bool = False  # a fetch or stitch is in progress
    finished: bool = False  # holds a video


def scan(root: Path) -> list[Entry]:
    """Every job directory under ``root`` (``<root>/<xx>/<job id>``)."""
    entries: list[Entry] = []
    for shard in _dirs(root):
        if shard.name.startswith("."):  # the sha256 index (``.by-sha256``), not a shard of job directories
            continue
        for directory in _dirs(shard):
            try:
                entry = Entry(directory, directory.stat().st_mtime)
                for item in directory.iterdir():
                    if item.is_dir():
                        entry.busy = entry.busy or (item.name == "scratch" and any(item.iterdir()))
                        continue
                    stat = item.stat()
                    entry.inodes[(stat.st_dev, stat.st_ino)] = stat.st_size
                    entry.busy = entry.busy or item.suffix == ".part"
                    entry.finished = entry.finished or item.name.startswith("video.")
            except FileNotFoundError:  # deleted while we looked
                continue
            entries.append(entry)
    return entries


def _dirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []


def choose_evictions(
    entries: list[Entry], *, max_bytes: int, max_age_s: float, now: float
) -> tuple[list[tuple[Entry, str]], int]:
    """Which directories to evict (oldest use first) and why, and the bytes that remain.

    ``max_bytes`` / ``max_age_s`` of 0 mean no such bound.
    """
    holders: dict[Inode, int] = {}
    sizes: dict[Inode, int] = {}
    for entry in entries:
        for inode, size in entry.inodes.items():
            holders[inode] = holders.get(inode, 0) + 1
            sizes[inode] = size
    total = sum(sizes.values())
    chosen: list[tuple[Entry, str]] = []
    for entry in sorted(entries, key=lambda e: e.used):
        if max_age_s and now - entry.used > max_age_s:
            reason = "age"  # stale, even if it never finished
        elif max_bytes and total > max_bytes and entry.finished and not entry.busy:
            if all(holders[inode] > 1 for inode in entry.inodes):
                continue  # its bytes are shared with a more recently used job: evicting frees nothing
            reason = "size"
        else:
            continue
        chosen.append((entry, reason))
        for inode in entry.inodes:
            holders[inode] -= 1
            if holders[inode] == 0:
                total -= sizes[inode]
    return chosen, total


class ContentJanitor:
    """Sweeps the content store now and then, and soon after something new was stored."""

    def __init__(
        self, content: LocalContentStore, *, max_bytes: int, max_age_s: float, interval_s: float = 60.0
    ) -> None:
        self.content = content
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        content.on_stored = self.poke

    def poke(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self.max_bytes or self.max_age_s:
            self._task = asyncio.create_task(self._loop(), name="content-janitor")

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self._task, 10)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # a full disk or a permission problem must not stop the janitor
                log.exception("content_sweep_failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            if not self._stop.is_set():
                await asyncio.sleep(min(self.interval_s, 0.5))  # let a burst of writes settle

    def sweep(self) -> list[str]:
        """Evict what is over budget now; returns the job ids evicted."""
        entries = scan(self.content.root)
        chosen, remaining = choose_evictions(
            entries, max_bytes=self.max_bytes, max_age_s=self.max_age_s, now=time.time()
        )
        evicted: list[str] = []
        for entry, reason in chosen:
            self.content.remove(entry.path.name)  # the job directory and its sha256 marker
            shutil.rmtree(entry.path, ignore_errors=True)  # (a directory outside the usual layout)
            EVICTIONS.labels(reason).inc()
            evicted.append(entry.path.name)
            log.info("content_evicted", video_id=entry.path.name, reason=reason)
        CONTENT_BYTES.set(remaining)
        return evicted
