"""Upstream status calls independent of the number of jobs in flight.

Polling every in-flight job on its own costs one upstream retrieve per job per
interval. Instead, a due job asks :class:`StatusSweep` for its status: the sweep
lists the upstream's newest generations (the adapter's ``list_page``, 100 a
page, newest first), paging on while a page still holds jobs this
replica is waiting for, and answers every waiting job from that one listing.
Only a job the listing did not show (older than the pages read, or an upstream
without a usable listing) is retrieved on its own, and then at a backed-off
interval (1, 2, 4 … 16 s while the listings keep missing it), not at every sweep.
With a :class:`~gateway.jobs.budget.StatusBudget` those retrieves also wait
for a slot of the upstream's budget (the pages are not budgeted: there are
``ceil(N / 100)`` of them per interval already); an upstream without a listing
gets the budget alone (:class:`BudgetedStatus`).

Freshness: a job is only ever answered from a listing that *started after* the
status it was last given, and at most ``interval_s`` old, so it never goes
backwards and never sees a state older than one interval. Sweeps are coalesced
(one in flight; the waiters share it) and start at most once per ``interval_s``:
with N jobs in flight the upstream sees about ``ceil(N / 100) / interval_s``
status calls per second, whatever N is.

The job's own schedule (the upstream's poll hint when it sends one, else by
age) still decides *when* it asks; a listing's poll hint, when present, is given
to every job it answers.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from gateway.jobs.budget import StatusBudget, StatusDeferred
from gateway.observability import log
from gateway.upstreams.base import (
    ContentStream,
    GenerationSpec,
    ListPage,
    Upstream,
    UpstreamError,
    UpstreamVideo,
)

TERMINAL = ("completed", "failed")
MAX_PAGES = 10  # 1,000 newest generations; older in-flight jobs are retrieved on their own
FORGET_S = 600.0  # a job not asked about for this long is no longer waited for (deleted, or moved)
UNSUPPORTED_PAUSE_S = 300.0  # the listing was refused as a client fault: per-job retrieves for this long
FALLBACK_MAX_S = 16.0  # a job the listings keep missing is retrieved on its own at most this far apart


class StatusSweep:
    """One upstream's in-flight statuses, from at most one listing sweep per ``interval_s``."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        interval_s: float,
        max_pages: int = MAX_PAGES,
        budget: StatusBudget | None = None,
    ) -> None:
        self.upstream = upstream
        self.interval_s = interval_s
        self.max_pages = max_pages
        self.budget = budget
        self._missed: dict[str, tuple[int, float]] = {}  # upstream id -> (retrieves in a row, next one not before)
        self._wanted: dict[str, float] = {}  # upstream id -> monotonic time it was last asked about
        self._given: dict[str, float] = {}  # upstream id -> monotonic start of the listing it was last given
        self._seen: dict[str, UpstreamVideo] = {}  # the last listing
        self._seen_at = float("-inf")  # monotonic time that listing started
        self._running: asyncio.Task[None] | None = None
        self._running_at = float("-inf")
        self._last_start = float("-inf")
        self._paused_until = float("-inf")
        # counters, for tests and benchmarks (sora_gateway_upstream_requests_total counts the calls themselves)
        self.sweeps = 0
        self.pages = 0
        self.answered = 0
        self.fallbacks = 0

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        """``upstream_id``'s status from a listing newer than what it was last given; else its own retrieve."""
        now = time.monotonic()
        self._wanted[upstream_id] = now
        video: UpstreamVideo | None = None
        stamp = now
        if now >= self._paused_until:
            given = self._given.get(upstream_id, float("-inf"))
            if await self._fresh_after(given):
                video, stamp = self._seen.get(upstream_id), self._seen_at
        if video is None:
            video = await self._alone(upstream_id, now)
            stamp = time.monotonic()
        else:
            self.answered += 1
            self._missed.pop(upstream_id, None)
        if video.status in TERMINAL:
            self.forget(upstream_id)
        else:
            self._given[upstream_id] = stamp
        return video

    async def _alone(self, upstream_id: str, now: float) -> UpstreamVideo:
        """A retrieve of one job the listing did not show: backed off while the listings keep missing it."""
        misses, not_before = self._missed.get(upstream_id, (0, now))
        if now < not_before:
            raise StatusDeferred(time.time() + (not_before - now))
        if self.budget is not None:
            self.budget.take(upstream_id)
        self.fallbacks += 1
        self._missed[upstream_id] = (misses + 1, now + min(FALLBACK_MAX_S, 2.0**misses))
        return await self.upstream.retrieve(upstream_id)

    def forget(self, upstream_id: str) -> None:
        self._wanted.pop(upstream_id, None)
        self._given.pop(upstream_id, None)
        self._missed.pop(upstream_id, None)
        if self.budget is not None:
            self.budget.release(upstream_id)

    async def _fresh_after(self, given: float) -> bool:
        """Wait for a listing that started after ``given`` and is at most ``interval_s`` old; False: none."""
        while True:
            now = time.monotonic()
            if self._seen_at > given and now - self._seen_at <= self.interval_s:
                return True
            running = self._running
            if running is not None and not running.done():
                fresh = self._running_at > given
                await asyncio.wait({running})  # never raises the sweep's error, never cancels it
                exc = None if running.cancelled() else running.exception()
                if exc is not None:
                    if isinstance(exc, UpstreamError) and exc.retryable:
                        raise exc  # the caller backs off, as after a failed retrieve
                    return False
                if fresh:
                    return self._seen_at > given
                continue
            wait = self._last_start + self.interval_s - now
            if wait > 0:  # not more often than once per interval; someone else may start it meanwhile
                await asyncio.sleep(wait)
                continue
            self._last_start = self._running_at = now
            self._running = asyncio.create_task(self._sweep(now), name="upstream-status-sweep")

    async def _sweep(self, started: float) -> None:
        cutoff = started - FORGET_S
        for stale in [k for k, at in self._wanted.items() if at < cutoff]:
            self.forget(stale)
        for stale in [k for k in self._missed if k not in self._wanted]:
            del self._missed[stale]
        wanted = set(self._wanted)
        seen: dict[str, UpstreamVideo] = {}
        after: str | None = None
        self.sweeps += 1
        try:
            for _ in range(self.max_pages):
                page: ListPage = await self.upstream.list_page(after)
                self.pages += 1
                hits = 0
                for video in page.videos:
                    if video.id in wanted and video.id not in seen:
                        hits += 1
                    if page.poll_after_ms is not None and video.poll_after_ms is None:
                        video.poll_after_ms = page.poll_after_ms
                    seen[video.id] = video
                if not page.has_more or not page.videos or not hits or wanted <= seen.keys():
                    break  # the rest are older than every job still waiting: retrieved on their own
                after = page.videos[-1].id
        except UpstreamError as exc:
            if not exc.retryable:
                self._paused_until = time.monotonic() + UNSUPPORTED_PAUSE_S
                log.warning("upstream_sweep_unsupported", upstream=self.upstream.name, status=exc.status)
            raise
        self._seen, self._seen_at = seen, started


class BudgetedStatus:
    """Per-job retrieves of an upstream without a listing, each in a slot of its :class:`StatusBudget`."""

    def __init__(self, upstream: Upstream, budget: StatusBudget) -> None:
        self.upstream = upstream
        self.budget = budget

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        self.budget.take(upstream_id)
        video = await self.upstream.retrieve(upstream_id)
        if video.status in TERMINAL:
            self.budget.release(upstream_id)
        return video

    def forget(self, upstream_id: str) -> None:
        self.budget.release(upstream_id)


class SweptUpstream:
    """An adapter whose ``retrieve`` is answered by a :class:`StatusSweep` (or, without a listing, by a
    :class:`BudgetedStatus`); everything else passes through."""

    def __init__(self, adapter: Upstream, sweep: StatusSweep | BudgetedStatus) -> None:
        self.adapter = adapter
        self.sweep = sweep
        self.name = adapter.name
        self.base_url = adapter.base_url
        self.lists = getattr(adapter, "lists", False)
        self.callbacks = getattr(adapter, "callbacks", False)

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        return await self.sweep.retrieve(upstream_id)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        return await self.adapter.create(spec)

    async def delete(self, upstream_id: str) -> None:
        self.sweep.forget(upstream_id)
        await self.adapter.delete(upstream_id)

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        return await self.adapter.list_recent(since)

    async def list_page(self, after: str | None = None) -> ListPage:
        return await self.adapter.list_page(after)

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        return await self.adapter.open_content(upstream_id, variant, range_header)

    async def list_models(self) -> list[dict[str, Any]]:
        return await self.adapter.list_models()

    async def moderate(self, text: str) -> dict[str, Any] | None:
        return await self.adapter.moderate(text)

    async def forward(
        self, method: str, path: str, *, json: Any = None, files: Any = None, data: Any = None
    ) -> tuple[int, Any]:
        return await self.adapter.forward(method, path, json=json, files=files, data=data)

    async def close(self) -> None:
        await self.adapter.close()


class Sweeps:
    """One :class:`StatusSweep` per adapter (per dialect) that lists, a :class:`BudgetedStatus` per one that
    does not; ``interval_s`` 0 turns sweeping off, ``calls_per_s`` 0 the budget of per-job retrieves."""

    def __init__(self, interval_s: float, calls_per_s: float = 0.0) -> None:
        self.interval_s = interval_s
        self.calls_per_s = calls_per_s
        self._by_adapter: weakref.WeakKeyDictionary[Any, SweptUpstream] = weakref.WeakKeyDictionary()

    def wrap(self, adapter: Upstream) -> Upstream:
        if isinstance(adapter, SweptUpstream):
            return adapter
        sweeping = self.interval_s > 0 and getattr(adapter, "lists", False)
        if not sweeping and self.calls_per_s <= 0:
            return adapter  # per-job retrieves, unbudgeted
        swept = self._by_adapter.get(adapter)
        if swept is None:
            budget = StatusBudget(self.calls_per_s) if self.calls_per_s > 0 else None
            if sweeping:
                status: StatusSweep | BudgetedStatus = StatusSweep(adapter, interval_s=self.interval_s, budget=budget)
            else:
                assert budget is not None
                status = BudgetedStatus(adapter, budget)
            swept = self._by_adapter[adapter] = SweptUpstream(adapter, status)
        return swept

    def budgets(self) -> list[StatusBudget]:
        found = (s.sweep.budget for s in self._by_adapter.values())
        return [b for b in found if b is not None]

    def stats(self) -> dict[str, int]:
        found = [s.sweep for s in self._by_adapter.values() if isinstance(s.sweep, StatusSweep)]
        return {
            "sweeps": sum(s.sweeps for s in found),
            "pages": sum(s.pages for s in found),
            "answered": sum(s.answered for s in found),
            "fallbacks": sum(s.fallbacks for s in found),
        }
