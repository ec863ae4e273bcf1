"""Pick the quota backend from the settings."""

from __future__ import annotations

from gateway.config import Settings
from gateway.quota.failover import FailoverQuota
from gateway.quota.memory import MemoryQuota
from gateway.quota.redis_lua import RedisQuota
from gateway.quota.service import QuotaService
from gateway.store.base import JobStore

BACKENDS = ("auto", "memory", "redis")


def quota_redis_url(settings: Settings) -> str | None:
    if settings.quota_redis:
        return settings.quota_redis
    return settings.store if settings.store.startswith(("redis://", "rediss://")) else None


def build_quota(settings: Settings, store: JobStore | None = None) -> QuotaService:
    """``auto``: Redis when the store (or ``quota_redis``) is Redis, else in-process counters
    (written through to a durable ``store``, so they survive a restart)."""
    kind = settings.quota_backend
    url = quota_redis_url(settings)
    if kind == "auto":
        kind = "redis" if url else "memory"
    if kind == "redis":
        if not url:
            raise ValueError("quota_backend redis needs quota_redis (or a redis:// store)")
        return QuotaService(FailoverQuota(RedisQuota(url), mode=settings.quota_fail_mode))
    durable = store if store is not None and not store.url.startswith("memory:") else None
    return QuotaService(MemoryQuota(persist=durable), jobs=store)
