"""The quota backend interface, its records, and the calendar periods counters belong to.

Counters are whole numbers: video seconds, and money in micro-dollars, so a sum never drifts.
Every charge is recorded per job, which makes releasing and refunding idempotent: a job
that is reported finished twice (a lease taken over mid-step) is only settled once.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import Protocol

MICRO = 1_000_000
WINDOW_S = 60.0  # requests_per_minute is a sliding window of this length
DAY_TTL_S = 2 * 86400  # how long a day's seconds counter is kept
MONTH_TTL_S = 62 * 86400  # how long a month's spend counter (and a job's charge record) is kept


class QuotaUnavailable(Exception):
    """The backend could not be reached; the caller decides between failing closed and open."""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: float  # until one more request fits (0 when one fits now)
    reset_s: float  # until the window is empty again (OpenAI's x-ratelimit-reset-requests)


@dataclass(frozen=True)
class Ask:
    """What one admitted create charges. A ``None`` limit means unlimited (still counted, for usage)."""

    job_id: str
    seconds: int
    micro_usd: int
    day: str
    month: str
    concurrent_limit: int | None = None
    seconds_limit: int | None = None
    micro_usd_limit: int | None = None


@dataclass(frozen=True)
class ChargeResult:
    refused: str | None  # the limit that refused (concurrent_jobs | video_seconds_per_day | budget_usd_per_month)
    used: int = 0  # that counter's value when it refused
    where: str = ""  # the backend that holds the charge


@dataclass(frozen=True)
class Counters:
    requests_in_window: int = 0
    concurrent_jobs: int = 0
    video_seconds_today: int = 0
    micro_usd_this_month: int = 0


class QuotaBackend(Protocol):
    name: str

    async def take_request(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision:
        """Count one request in the sliding window when it fits (atomically)."""

    def last_seen(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision | None:
        """The request window as best known without a round trip (for headers on other responses)."""

    async def charge(self, tenant: str, ask: Ask, *, job_ttl_s: float) -> ChargeResult:
        """Check every limit and charge them all, or nothing (atomically)."""

    async def settle(
        self, tenant: str, job_id: str, day: str, month: str, *, refund: bool, where: str | None = None
    ) -> None:
        """Release the job's concurrency slot; with ``refund`` give back its seconds and money. Idempotent."""

    async def counters(self, tenant: str, day: str, month: str, window_s: float = WINDOW_S) -> Counters: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def day_of(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))


def month_of(now: float | None = None) -> str:
    return time.strftime("%Y-%m", time.gmtime(time.time() if now is None else now))


def seconds_to_next_day(now: float | None = None) -> float:
    now = time.time() if now is None else now
    return 86400 - now % 86400


def seconds_to_next_month(now: float | None = None) -> float:
    now = time.time() if now is None else now
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0)) - now


def micro_usd(usd: float) -> int:
    return round(usd * MICRO)
