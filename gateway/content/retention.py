"""Keep retained content under a size and age budget, evicting the least recently used jobs.

The files outlive the upstream's own expiry (about an hour): they stay until a job's content
has not been used (written, shared with a cache hit, or downloaded) for ``max_age_s``, or until
the store is over ``max_bytes`` and the job is among the least recently used. Bytes are counted
per inode, so a video shared by hard links (cache hits, coalesced creates) counts once and is
freed only when its last job lets go of it. A job still being fetched or stitched (a ``.part``
file or a ``scratch`` directory) is never evicted for size.

On ``s3://`` the same rules hold for the objects under each job's key prefix: an object is one copy
of the bytes (a cache hit's server-side copy counts as its own), the last use is the newest
``LastModified`` among them (``touch`` rewrites a small ``.used`` marker), and a multipart upload in
progress is invisible to a listing, so a job still being fetched holds no video and is not evicted for size.

A download of evicted content falls back to the upstream while it still has the video, else
the client gets a 410 (``gateway.pipeline.service``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import Counter, Gauge

from gateway.content.base import ContentStore, ContentStoreError
from gateway.content.entries import Entry, Inode, scan
from gateway.observability import REGISTRY, log

__all__ = ["ContentJanitor", "Entry", "choose_evictions", "scan"]

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

    def __init__(self, content: ContentStore, *, max_bytes: int, max_age_s: float, interval_s: float = 60.0) -> None:
        self.content = content
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: str | None = None  # the last sweep's failure (an unreachable bucket), for /readyz
        content.on_stored = self.poke

    def status(self) -> dict[str, object]:
        return {"ok": self.error is None, "url": self.content.url, "error": self.error}

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
                await self.sweep()
                self.error = None
            except ContentStoreError as exc:  # an unreachable bucket: not ready, and try again later
                self.error = str(exc)
                log.warning("content_sweep_failed", error=self.error)
            except Exception:  # a full disk, a permission problem: try again later
                log.exception("content_sweep_failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            if not self._stop.is_set():
                await asyncio.sleep(min(self.interval_s, 0.5))  # let a burst of writes settle

    async def sweep(self) -> list[str]:
        """Evict what is over budget now; returns the job ids evicted."""
        entries = await self.content.inventory()
        chosen, remaining = choose_evictions(
            entries, max_bytes=self.max_bytes, max_age_s=self.max_age_s, now=time.time()
        )
        evicted: list[str] = []
        for entry, reason in chosen:
            await self.content.evict(entry)
            EVICTIONS.labels(reason).inc()
            evicted.append(entry.path.name)
            log.info("content_evicted", video_id=entry.path.name, reason=reason)
        CONTENT_BYTES.set(remaining)
        return evicted
