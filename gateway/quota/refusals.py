"""Quota refusals in OpenAI's shape, and OpenAI's ``x-ratelimit-*`` request headers."""

from __future__ import annotations

import math

from prometheus_client import Counter

from gateway.errors import ApiError
from gateway.observability import REGISTRY
from gateway.quota.backend import RateDecision

QUOTA_REFUSALS = Counter(
    "sora_gateway_quota_refusals_total",
    "Creates refused by a tenant quota, by the limit that refused",
    ["tenant", "limit"],
    registry=REGISTRY,
)

# limit -> (error type, code); requests per minute uses OpenAI's own type and code
KINDS = {
    "requests_per_minute": ("requests", "rate_limit_exceeded"),
    "concurrent_jobs": ("requests", "concurrent_jobs_exceeded"),
    "video_seconds_per_day": ("video_seconds", "video_seconds_per_day_exceeded"),
    "budget_usd_per_month": ("insufficient_quota", "budget_usd_per_month_exceeded"),
}


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``120ms``, ``17s``, ``6m0s``, ``1h2m3s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rate_headers(decision: RateDecision) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(decision.limit),
        "x-ratelimit-remaining-requests": str(decision.remaining),
        "x-ratelimit-reset-requests": duration(decision.reset_s),
    }


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def over_limit(tenant: str, limit: str, message: str, wait_s: float, headers: dict[str, str] | None = None) -> ApiError:
    """A 429 naming ``limit``, with ``Retry-After`` (whole seconds) and ``retry-after-ms``."""
    QUOTA_REFUSALS.labels(tenant, limit).inc()
    type_, code = KINDS[limit]
    return ApiError(
        429,
        message,
        type=type_,
        code=code,
        headers={
            **(headers or {}),
            "Retry-After": retry_after(wait_s),
            "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
        },
    )


def request_limit(tenant: str, limit: str, message: str, param: str | None) -> ApiError:
    """A per-request limit (model, length): retrying cannot help, so it is a 400, not a 429."""
    QUOTA_REFUSALS.labels(tenant, limit).inc()
    return ApiError(400, message, param=param, code=f"{limit}_exceeded" if limit != "models" else "model_not_allowed")
