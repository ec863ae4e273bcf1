"""In-process quota counters: exact for one process, shared by nothing.

Each check and its update run without an ``await`` in between, so on one event loop
they are atomic just like the Redis scripts. With a durable store (sqlite) the day and
month counters are written through to its keyed values and read back after a restart,
and :meth:`MemoryQuota.restore` gives the jobs still running their slots back, so a
restart neither forgives a month's spend nor frees slots that are still busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import time
from collections import deque

from gateway.observability import log
from gateway.quota.backend import DAY_TTL_S, MICRO, MONTH_TTL_S, WINDOW_S, Ask, ChargeResult, Counters, RateDecision
from gateway.store import deferred
from gateway.store.base import JobStore, StoreError


class MemoryQuota:
    name = "memory"

    def __init__(self, name: str = "memory", *, persist: JobStore | None = None) -> None:
        self.name = name
        self.persist = persist
        self._load_lock = asyncio.Lock()
        self._requests: dict[str, deque[float]] = {}
        self._running: dict[str, dict[str, float]] = {}  # tenant -> job id -> deadline
        self._deadlines: dict[str, list[tuple[float, str]]] = {}  # tenant -> heap of (deadline, job id)
        self._seconds: dict[tuple[str, str], int] = {}  # (tenant, day)
        self._micro: dict[tuple[str, str], int] = {}  # (tenant, month)
        self._charges: dict[tuple[str, str], tuple[int, int]] = {}  # (tenant, job) -> (seconds, micro-usd)

    def _window(self, tenant: str, window_s: float, now: float) -> deque[float]:
        times = self._requests.setdefault(tenant, deque())
        while times and times[0] <= now - window_s:
            times.popleft()
        return times

    def _decision(self, allowed: bool, times: deque[float], limit: int, window_s: float, now: float) -> RateDecision:
        retry = times[0] + window_s - now if times and len(times) >= limit else 0.0
        reset = times[-1] + window_s - now if times else 0.0
        return RateDecision(allowed, limit, max(limit - len(times), 0), max(retry, 0.0), max(reset, 0.0))

    async def take_request(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision:
        now = time.time()
        times = self._window(tenant, window_s, now)
        allowed = len(times) < limit
        if allowed:
            times.append(now)
        return self._decision(allowed, times, limit, window_s, now)

    def last_seen(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision | None:
        now = time.time()
        times = self._window(tenant, window_s, now)
        return self._decision(True, times, limit, window_s, now)

    def _live(self, tenant: str) -> dict[str, float]:
        """The tenant's running jobs; a slot whose release was lost (a crash) frees itself at its deadline.

        Deadlines are kept in a heap beside the dict, so a charge looks only at the slots that are due, not at
        every job in flight (a scan of all of them made each create cost more the more jobs were running)."""
        running = self._running.setdefault(tenant, {})
        heap = self._deadlines.setdefault(tenant, [])
        now = time.time()
        while heap and heap[0][0] <= now:
            deadline, job_id = heapq.heappop(heap)
            if running.get(job_id) == deadline:  # not released or held again since
                del running[job_id]
        return running

    def _hold(self, tenant: str, job_id: str, deadline: float) -> None:
        running = self._running.setdefault(tenant, {})
        running[job_id] = deadline
        heap = self._deadlines.setdefault(tenant, [])
        heapq.heappush(heap, (deadline, job_id))
        if len(heap) > 2 * len(running) + 1024:  # released slots' entries: dropped now and then
            heap[:] = [(d, j) for j, d in running.items()]
            heapq.heapify(heap)

    # -- write-through of the day and month counters ---------------------------------------
    @staticmethod
    def _kv_keys(tenant: str, day: str, month: str) -> tuple[str, str]:
        return f"quota:{tenant}:seconds:{day}", f"quota:{tenant}:usd:{month}"

    async def _load(self, tenant: str, day: str, month: str) -> None:
        if self.persist is None or ((tenant, day) in self._seconds and (tenant, month) in self._micro):
            return
        async with self._load_lock:
            seconds_key, usd_key = self._kv_keys(tenant, day, month)
            if (tenant, day) not in self._seconds:
                self._seconds[(tenant, day)] = int(await self.persist.kv_get(seconds_key) or 0)
            if (tenant, month) not in self._micro:
                self._micro[(tenant, month)] = int(await self.persist.kv_get(usd_key) or 0)

    def _values(self, tenant: str, day: str, month: str) -> list[tuple[str, str, float | None]]:
        """The day and month counters as keyed values, as they stand now."""
        seconds_key, usd_key = self._kv_keys(tenant, day, month)
        return [
            (seconds_key, str(self._seconds.get((tenant, day), 0)), DAY_TTL_S),
            (usd_key, str(self._micro.get((tenant, month), 0)), MONTH_TTL_S),
        ]

    async def _persist_charge(self, tenant: str, ask: Ask) -> None:
        """The job's own charge and the new totals: with the job's write when a create collects them
        (store/deferred.py: one transaction), else the charge first, then the totals, so a crash between the
        two never charges the job twice (it is seen as charged when made again)."""
        charge = [(self._charge_key(tenant, ask.job_id), f"{ask.seconds},{ask.micro_usd}", DAY_TTL_S)]
        totals = functools.partial(self._values, tenant, ask.day, ask.month)
        if deferred.defer(f"quota:{tenant}:charge:{ask.job_id}", lambda: charge):
            deferred.defer(f"quota:{tenant}", totals)
            return
        try:
            for key, value, ttl_s in charge:
                await self.persist.kv_set(key, value, ttl_s=ttl_s)  # type: ignore[union-attr]
        except StoreError as exc:
            log.warning("quota_persist_failed", tenant=tenant, error=str(exc))
        await self._save(tenant, ask.day, ask.month)

    async def _save(self, tenant: str, day: str, month: str) -> None:
        if self.persist is None:
            return
        try:
            for key, value, ttl_s in self._values(tenant, day, month):
                await self.persist.kv_set(key, value, ttl_s=ttl_s)
        except StoreError as exc:  # the counters in memory stay right; only a restart would lose them
            log.warning("quota_persist_failed", tenant=tenant, error=str(exc))

    async def restore(self, jobs: JobStore, job_ttl_s: float) -> int:
        """Give every job still running that was charged here its slot (and refundable charge) back."""
        restored = 0
        for job_id in await jobs.active_ids():
            job = await jobs.get(job_id)
            charged = job.requested.get("charged") if job is not None else None
            if job is None or not isinstance(charged, dict) or charged.get("where") != self.name:
                continue
            self._hold(job.tenant, job.id, time.time() + job_ttl_s)
            micro = round(float(charged.get("usd", 0)) * MICRO)
            self._charges[(job.tenant, job.id)] = (int(charged.get("seconds", 0)), micro)
            restored += 1
        return restored

    @staticmethod
    def _charge_key(tenant: str, job_id: str) -> str:
        return f"quota:{tenant}:charge:{job_id}"

    async def _charged_before(self, tenant: str, job_id: str) -> tuple[int, int] | None:
        """What ``job_id`` was charged by a process before this one (killed before its job was stored)."""
        if self.persist is None:
            return None
        raw = await self.persist.kv_get(self._charge_key(tenant, job_id))
        if not raw:
            return None
        seconds, micro = raw.split(",")
        return int(seconds), int(micro)

    async def charge(self, tenant: str, ask: Ask, *, job_ttl_s: float) -> ChargeResult:
        await self._load(tenant, ask.day, ask.month)
        before = await self._charged_before(tenant, ask.job_id)
        running = self._live(tenant)
        if (tenant, ask.job_id) in self._charges:
            return ChargeResult(None, where=self.name)
        if before is not None:  # charged once already (the same job made again after a crash): never twice
            self._hold(tenant, ask.job_id, time.time() + job_ttl_s)
            self._charges[(tenant, ask.job_id)] = before
            return ChargeResult(None, where=self.name)
        seconds = self._seconds.get((tenant, ask.day), 0)
        micro = self._micro.get((tenant, ask.month), 0)
        if ask.concurrent_limit is not None and len(running) + 1 > ask.concurrent_limit:
            return ChargeResult("concurrent_jobs", len(running), self.name)
        if ask.seconds_limit is not None and seconds + ask.seconds > ask.seconds_limit:
            return ChargeResult("video_seconds_per_day", seconds, self.name)
        if ask.micro_usd_limit is not None and micro + ask.micro_usd > ask.micro_usd_limit:
            return ChargeResult("budget_usd_per_month", micro, self.name)
        self._hold(tenant, ask.job_id, time.time() + job_ttl_s)
        self._seconds[(tenant, ask.day)] = seconds + ask.seconds
        self._micro[(tenant, ask.month)] = micro + ask.micro_usd
        self._charges[(tenant, ask.job_id)] = (ask.seconds, ask.micro_usd)
        if self.persist is not None:
            await self._persist_charge(tenant, ask)
        return ChargeResult(None, where=self.name)

    async def settle(
        self, tenant: str, job_id: str, day: str, month: str, *, refund: bool, where: str | None = None
    ) -> None:
        self._running.get(tenant, {}).pop(job_id, None)
        charged = self._charges.pop((tenant, job_id), None)
        if refund and charged is None:  # charged by a process before this one (its job never stored)
            with contextlib.suppress(StoreError):
                charged = await self._charged_before(tenant, job_id)
        if self.persist is not None:
            with contextlib.suppress(StoreError):
                await self.persist.kv_delete(self._charge_key(tenant, job_id))
        if charged is None or not refund:
            return
        await self._load(tenant, day, month)
        seconds, micro = charged
        self._seconds[(tenant, day)] = max(self._seconds.get((tenant, day), 0) - seconds, 0)
        self._micro[(tenant, month)] = max(self._micro.get((tenant, month), 0) - micro, 0)
        await self._save(tenant, day, month)

    async def counters(self, tenant: str, day: str, month: str, window_s: float = WINDOW_S) -> Counters:
        await self._load(tenant, day, month)
        return Counters(
            requests_in_window=len(self._window(tenant, window_s, time.time())),
            concurrent_jobs=len(self._live(tenant)),
            video_seconds_today=self._seconds.get((tenant, day), 0),
            micro_usd_this_month=self._micro.get((tenant, month), 0),
        )

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
