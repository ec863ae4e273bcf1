"""Redis quotas that survive Redis going away: fail closed (503) or open (per-replica limits).

While Redis is unreachable the wrapper stops trying for ``retry_s`` at a time, so a dead Redis
costs one fast failure per second, not one timeout per request. Fail closed refuses quota-checked
creates with a 503; fail open counts them in this process with the same limits, so each replica
enforces the limits on its own traffic. Charges remember where they were made; a release that
cannot reach Redis is kept and sent again once Redis answers. Recovery needs no restart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from prometheus_client import Gauge

from gateway.errors import ApiError
from gateway.observability import REGISTRY, log
from gateway.quota.backend import WINDOW_S, Ask, ChargeResult, Counters, QuotaBackend, QuotaUnavailable, RateDecision
from gateway.quota.memory import MemoryQuota

T = TypeVar("T")
FAIL_MODES = ("closed", "open")

BACKEND_UP = Gauge(
    "sora_gateway_quota_backend_up",
    "1 while the shared quota backend answers, 0 while quotas fail closed or open",
    ["backend"],
    registry=REGISTRY,
    multiprocess_mode="livemin",
)


def unavailable() -> ApiError:
    return ApiError(
        503,
        "Quota accounting is temporarily unavailable, so new videos cannot be admitted; retry shortly.",
        type="server_error",
        code="quota_unavailable",
        headers={"Retry-After": "1"},
    )


class FailoverQuota:
    def __init__(self, primary: QuotaBackend, *, mode: str = "closed", retry_s: float = 1.0) -> None:
        if mode not in FAIL_MODES:
            raise ValueError(f"quota fail mode must be one of {', '.join(FAIL_MODES)}, got {mode!r}")
        self.primary = primary
        self.local = MemoryQuota("local")
        self.name = primary.name
        self.mode = mode
        self.retry_s = retry_s
        self.up = True
        self.last_error: str | None = None
        self._down_until = 0.0
        self._pending: list[tuple[str, str, str, str, bool]] = []  # settles Redis has not seen yet
        BACKEND_UP.labels(self.name).set(1)

    def _mark_down(self, exc: QuotaUnavailable) -> None:
        self._down_until = time.monotonic() + self.retry_s
        self.last_error = str(exc)
        if self.up:
            log.error("quota_backend_down", backend=self.name, mode=self.mode, error=str(exc))
        self.up = False
        BACKEND_UP.labels(self.name).set(0)

    async def _mark_up(self) -> None:
        if not self.up:
            log.info("quota_backend_recovered", backend=self.name, pending_settles=len(self._pending))
        self.up, self.last_error = True, None
        BACKEND_UP.labels(self.name).set(1)
        pending, self._pending = self._pending, []
        for i, (tenant, job_id, day, month, refund) in enumerate(pending):
            try:
                await self.primary.settle(tenant, job_id, day, month, refund=refund)
            except QuotaUnavailable:
                self._pending.extend(pending[i:])
                return

    async def _primary(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """The primary's answer, or ``None`` when it is (or was just found) unreachable."""
        if time.monotonic() < self._down_until:
            return None
        try:
            result = await call()
        except QuotaUnavailable as exc:
            self._mark_down(exc)
            return None
        if not self.up or self._pending:
            await self._mark_up()
        return result

    async def _degraded(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.mode == "closed":
            raise unavailable()
        return await call()

    async def take_request(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision:
        result = await self._primary(lambda: self.primary.take_request(tenant, limit, window_s))
        if result is not None:
            return result
        return await self._degraded(lambda: self.local.take_request(tenant, limit, window_s))

    def last_seen(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision | None:
        if not self.up and self.mode == "open":
            return self.local.last_seen(tenant, limit, window_s)
        return self.primary.last_seen(tenant, limit, window_s)

    async def charge(self, tenant: str, ask: Ask, *, job_ttl_s: float) -> ChargeResult:
        result = await self._primary(lambda: self.primary.charge(tenant, ask, job_ttl_s=job_ttl_s))
        if result is not None:
            return result
        return await self._degraded(lambda: self.local.charge(tenant, ask, job_ttl_s=job_ttl_s))

    async def settle(
        self, tenant: str, job_id: str, day: str, month: str, *, refund: bool, where: str | None = None
    ) -> None:
        if where == self.local.name:
            await self.local.settle(tenant, job_id, day, month, refund=refund)
            return
        done = await self._primary(lambda: self._settled(tenant, job_id, day, month, refund))
        if done is None:
            self._pending.append((tenant, job_id, day, month, refund))

    async def _settled(self, tenant: str, job_id: str, day: str, month: str, refund: bool) -> bool:
        await self.primary.settle(tenant, job_id, day, month, refund=refund)
        return True

    async def counters(self, tenant: str, day: str, month: str, window_s: float = WINDOW_S) -> Counters:
        result = await self._primary(lambda: self.primary.counters(tenant, day, month, window_s))
        return result if result is not None else await self.local.counters(tenant, day, month, window_s)

    async def ping(self) -> None:
        await self.primary.ping()

    async def close(self) -> None:
        await self.primary.close()

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "up": self.up,
            "fail_mode": self.mode,
            "error": self.last_error,
            "pending_settles": len(self._pending),
        }
