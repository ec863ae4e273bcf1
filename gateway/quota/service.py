"""What stages, job events and the usage face call: limits from the tenant, counters from the backend."""

from __future__ import annotations

import time
from typing import Any

from gateway.core.models import Job, Status
from gateway.observability import log
from gateway.policies.model import Tenant
from gateway.quota.backend import (
    MICRO,
    WINDOW_S,
    Ask,
    ChargeResult,
    QuotaBackend,
    QuotaUnavailable,
    RateDecision,
    day_of,
    micro_usd,
    month_of,
)
from gateway.quota.failover import FailoverQuota
from gateway.quota.memory import MemoryQuota
from gateway.quota.refusals import rate_headers
from gateway.store.base import JobStore, id_position

JOB_TTL_S = 6 * 3600  # a concurrency slot whose release was lost frees itself after this


class QuotaService:
    def __init__(
        self, backend: QuotaBackend | FailoverQuota, *, job_ttl_s: float = JOB_TTL_S, jobs: JobStore | None = None
    ) -> None:
        self.backend = backend
        self.job_ttl_s = job_ttl_s
        self.jobs = jobs

    async def start(self) -> None:
        """In-process counters only: give the jobs that survived a restart their slots back."""
        if isinstance(self.backend, MemoryQuota) and self.jobs is not None:
            restored = await self.backend.restore(self.jobs, self.job_ttl_s)
            if restored:
                log.info("quota_slots_restored", jobs=restored)

    # -- requests per minute -----------------------------------------------
    async def take_request(self, tenant: Tenant) -> RateDecision | None:
        limit = tenant.quotas.requests_per_minute
        if limit is None:
            return None
        return await self.backend.take_request(tenant.name, int(limit), WINDOW_S)

    def headers_for(self, tenant: Tenant) -> dict[str, str]:
        """``x-ratelimit-*`` for any response to ``tenant`` without a round trip (best known values)."""
        limit = tenant.quotas.requests_per_minute
        if limit is None:
            return {}
        seen = self.backend.last_seen(tenant.name, int(limit), WINDOW_S)
        return rate_headers(seen) if seen is not None else {}

    # -- charges ---------------------------------------------------------------
    def ask(self, tenant: Tenant, job: Job, seconds: int, usd: float, now: float | None = None) -> Ask:
        q = tenant.quotas
        return Ask(
            job_id=job.id,
            seconds=seconds,
            micro_usd=micro_usd(usd),
            day=day_of(now),
            month=month_of(now),
            concurrent_limit=None if q.concurrent_jobs is None else int(q.concurrent_jobs),
            seconds_limit=None if q.video_seconds_per_day is None else int(q.video_seconds_per_day),
            micro_usd_limit=None if q.budget_usd_per_month is None else micro_usd(q.budget_usd_per_month),
        )

    async def charge(self, tenant: Tenant, ask: Ask) -> ChargeResult:
        return await self.backend.charge(tenant.name, ask, job_ttl_s=self.job_ttl_s)

    async def settle(self, job: Job, *, refund: bool) -> bool:
        """Give back what ``job`` holds (its slot; with ``refund`` its seconds and money). Idempotent."""
        charged = job.requested.get("charged")
        if not isinstance(charged, dict):
            return False
        try:
            await self.backend.settle(
                job.tenant,
                job.id,
                str(charged["day"]),
                str(charged["month"]),
                refund=refund,
                where=charged.get("where"),
            )
        except QuotaUnavailable as exc:  # a plain backend without failover: the slot frees itself later
            log.error("quota_settle_failed", video_id=job.id, tenant=job.tenant, error=str(exc))
            return False
        log.info("quota_settled", video_id=job.id, tenant=job.tenant, refund=refund, status=str(job.status))
        return True

    async def refund_unstored(self, tenant: str, job_id: str) -> None:
        """Give back the charge of a job that was never stored (its request died after the quota stage)."""
        position = id_position(job_id)  # charged the moment its id was made (same UTC day and month)
        charged_at = float(position[0]) if position else time.time()
        try:
            await self.backend.settle(tenant, job_id, day_of(charged_at), month_of(charged_at), refund=True)
        except QuotaUnavailable as exc:
            log.error("quota_settle_failed", video_id=job_id, tenant=tenant, error=str(exc))
            raise
        log.info("quota_refunded_unstored", video_id=job_id, tenant=tenant)

    async def job_done(self, job: Job) -> None:
        await self.settle(job, refund=job.status == Status.FAILED)

    # -- usage -------------------------------------------------------------------
    async def usage(self, tenant: Tenant, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        day, month = day_of(now), month_of(now)
        c = await self.backend.counters(tenant.name, day, month, WINDOW_S)
        q = tenant.quotas
        return {
            "object": "gateway.usage",
            "tenant": tenant.name,
            "day": day,
            "month": month,
            "usage": {
                "requests_last_minute": c.requests_in_window,
                "concurrent_jobs": c.concurrent_jobs,
                "video_seconds_today": c.video_seconds_today,
                "spend_usd_this_month": round(c.micro_usd_this_month / MICRO, 6),
            },
            "limits": {
                "requests_per_minute": q.requests_per_minute,
                "concurrent_jobs": q.concurrent_jobs,
                "video_seconds_per_day": q.video_seconds_per_day,
                "budget_usd_per_month": q.budget_usd_per_month,
                "max_seconds_per_request": q.max_seconds_per_request,
                "models": list(tenant.models) if tenant.models is not None else None,
            },
            "backend": self.status(),
        }

    def status(self) -> dict[str, Any]:
        if isinstance(self.backend, FailoverQuota):
            # reported, not failing readiness: reads still work, and every replica shares the same Redis
            return {"ok": True, **self.backend.status()}
        return {"ok": True, "backend": self.backend.name, "up": True}

    async def close(self) -> None:
        await self.backend.close()
