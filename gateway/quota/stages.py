"""The two quota stages of admission.

``RateLimitStage`` runs before the cache: it counts every create-like request against
``requests_per_minute`` and refuses what no quota could ever allow (a model the team may
not use, more seconds than one request may ask for), so neither can slip in as a cache hit.
``QuotaStage`` runs after the cache, so hits and coalesced creates never reach it: it charges
a concurrency slot, the video seconds and the price, all or nothing, and records the charge
on the job so the job events can release and refund it.
"""

from __future__ import annotations

from contextvars import ContextVar

from gateway.core.model_list import allows
from gateway.core.models import Job
from gateway.errors import ApiError
from gateway.observability import log
from gateway.pipeline.stages import Admission
from gateway.policies.model import Tenant
from gateway.quota.backend import MICRO, seconds_to_next_day, seconds_to_next_month
from gateway.quota.refusals import over_limit, rate_headers, request_limit
from gateway.quota.service import QuotaService

CONCURRENCY_RETRY_S = 5.0  # a slot frees when some job finishes: ask again soon
# headers of a request already counted against requests_per_minute by :func:`count_request` (the face's
# gate, before the body is read); the first admission of that request takes them instead of counting again
_COUNTED: ContextVar[dict[str, str] | None] = ContextVar("request_counted", default=None)


def generated_seconds(adm: Admission) -> int:
    """What the upstream will generate (an extension generates only its new seconds)."""
    return sum(s.seconds for s in adm.plan.segments) or int(adm.plan.seconds)


def check_request_limits(adm: Admission) -> None:
    tenant = adm.tenant
    model = adm.plan.model
    if not allows(adm.caps, tenant.models, model) and not allows(adm.caps, tenant.models, adm.plan.upstream_model):
        raise request_limit(
            tenant.name,
            "models",
            f"Invalid 'model': {model!r} is not allowed for this team; allowed: {', '.join(tenant.models)}.",
            "model",
        )
    most = tenant.quotas.max_seconds_per_request
    seconds = generated_seconds(adm)
    if most is not None and seconds > most:
        asked = adm.plan.seconds  # what the client asked; the upstream may have to generate more (clip lengths)
        shown = f"{asked}" if asked == seconds else f"{asked} (generated upstream: {seconds})"
        raise request_limit(
            tenant.name,
            "max_seconds_per_request",
            f"Invalid 'seconds': {shown} exceeds this team's max_seconds_per_request of {most:g}.",
            "seconds",
        )


class RateLimitStage:
    name = "rate_limit"

    def __init__(self, quota: QuotaService) -> None:
        self.quota = quota

    async def admit(self, adm: Admission) -> Job | None:
        check_request_limits(adm)
        counted = _COUNTED.get()
        if counted is not None:  # counted at the door; a second admission of the same request counts again
            _COUNTED.set(None)
            adm.headers.update(counted)
            return None
        adm.headers.update(await count_request(self.quota, adm.tenant))
        return None

    async def undo(self, adm: Admission) -> None:
        return None  # the request was made; it counts


class QuotaStage:
    name = "quota"

    def __init__(self, quota: QuotaService) -> None:
        self.quota = quota

    async def admit(self, adm: Admission) -> Job | None:
        tenant, job = adm.tenant, adm.job
        seconds = generated_seconds(adm)
        usd = round(seconds * adm.plan.price_per_second, 6)
        ask = self.quota.ask(tenant, job, seconds, usd)
        result = await self.quota.charge(tenant, ask)
        if result.refused is not None:
            raise self._refusal(adm, result.refused, result.used, ask.seconds, ask.micro_usd)
        job.requested["charged"] = {
            "seconds": seconds,
            "usd": usd,
            "day": ask.day,
            "month": ask.month,
            "where": result.where,
        }
        adm.charged.append(self.name)
        return None

    async def undo(self, adm: Admission) -> None:
        await self.quota.settle(adm.job, refund=True)

    def _refusal(self, adm: Admission, limit: str, used: int, seconds: int, micro: int) -> ApiError:
        tenant = adm.tenant
        q = tenant.quotas
        log.info("quota_refused", tenant=tenant.name, limit=limit, used=used)
        if limit == "concurrent_jobs":
            return over_limit(
                tenant.name,
                limit,
                f"Team {tenant.name!r} already has {used} video(s) in progress, its concurrent_jobs limit of "
                f"{q.concurrent_jobs}. Try again when one finishes.",
                CONCURRENCY_RETRY_S,
            )
        if limit == "video_seconds_per_day":
            return over_limit(
                tenant.name,
                limit,
                f"This video needs {seconds}s but team {tenant.name!r} has used {used}s of its video_seconds_per_day "
                f"limit of {q.video_seconds_per_day:g}s today (UTC).",
                seconds_to_next_day(),
            )
        return over_limit(
            tenant.name,
            limit,
            f"This video costs ${micro / MICRO:.2f} but team {tenant.name!r} has spent ${used / MICRO:.2f} of its "
            f"budget_usd_per_month of ${q.budget_usd_per_month:g} this month (UTC).",
            seconds_to_next_month(),
        )


async def count_request(quota: QuotaService, tenant: Tenant, *, at_door: bool = False) -> dict[str, str]:
    """Count one create-like request against ``requests_per_minute``: its ``x-ratelimit-*`` headers, or a 429.

    ``at_door``: a face counts the request before reading its body, so a request refused later (an unknown
    field, the content policy, a quota) still counts; the admission stage then does not count it again.
    """
    decision = await quota.take_request(tenant)
    if decision is None:
        return {}
    headers = rate_headers(decision)
    if not decision.allowed:
        raise over_limit(
            tenant.name,
            "requests_per_minute",
            f"Rate limit reached for team {tenant.name!r} on requests_per_minute: limit {decision.limit}, "
            f"used {decision.limit}. Please try again in {decision.retry_after_s:.1f}s.",
            decision.retry_after_s,
            headers,
        )
    if at_door:
        _COUNTED.set(headers)
    return headers
