"""Request-rate and concurrency limits, answered with OpenAI-style 429s."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from gateway.simulator.config import RATE_WINDOW_SECONDS
from gateway.simulator.errors import SimError
from gateway.simulator.jobs import ACTIVE, Job


def reset_text(seconds: float) -> str:
    """OpenAI's ``x-ratelimit-reset-*`` format: ``20ms``, ``7s``, ``1m3s``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60}s"


class RateLimiter:
    """At most ``rpm`` create-like requests per API key in any sliding 60 s window (real time)."""

    def __init__(self, rpm: int, window: float = RATE_WINDOW_SECONDS) -> None:
        self.rpm = rpm
        self.window = window
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> dict[str, str]:
        """Count one request; return the rate-limit headers, or raise a 429."""
        if self.rpm <= 0:
            return {}
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        reset = (hits[0] + self.window - now) if hits else 0.0
        if len(hits) >= self.rpm:
            headers = self._headers(0, reset)
            headers["Retry-After"] = str(max(1, math.ceil(reset)))
            raise SimError(
                429,
                f"Rate limit reached for requests per minute: limit {self.rpm}. "
                f"Please try again in {reset_text(reset)}.",
                type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        hits.append(now)
        reset = hits[0] + self.window - now
        return self._headers(self.rpm - len(hits), reset)

    def _headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.rpm),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": reset_text(reset),
        }

    def clear(self) -> None:
        self.hits.clear()


def check_concurrency(limit: int, jobs: Iterable[Job], now: float) -> None:
    """Raise a 429 ``concurrency_limit_exceeded`` when ``limit`` jobs are still queued or running."""
    if limit <= 0:
        return
    active = [job for job in jobs if not job.deleted and job.phase(now) in ACTIVE]
    if len(active) < limit:
        return
    wait = min(job.retry_in(now) for job in active)
    raise SimError(
        429,
        f"Too many concurrent video generations: limit {limit}. Wait for a job to finish.",
        type="requests",
        code="concurrency_limit_exceeded",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )
