"""Quota counters in Redis, exact across replicas: each operation is one Lua script, one round trip.

Keys (``P`` is the store prefix, ``sora-gateway`` unless ``?prefix=`` says otherwise); every key of
a tenant shares the hash tag ``{P:quota:<tenant>}``, so each script touches one slot and runs
unchanged on Redis Cluster:

=====================================  ===========================================================
``{P:quota:T}:rpm``                    sorted set: one member per counted request, score = ms time
``{P:quota:T}:running``                sorted set: job ids holding a concurrency slot, score = deadline
``{P:quota:T}:seconds:<YYYY-MM-DD>``   integer: video seconds charged that UTC day (expires after 2 days)
``{P:quota:T}:usd:<YYYY-MM>``          integer: micro-dollars charged that UTC month (expires after 62 days)
``{P:quota:T}:charge:<job id>``        hash ``seconds``, ``usd``: what the job was charged (makes settling
                                       idempotent; expires after 62 days)
=====================================  ===========================================================

Time comes from Redis (``TIME``), so replicas with skewed clocks still share one window.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from gateway.quota.backend import (
    DAY_TTL_S,
    MONTH_TTL_S,
    WINDOW_S,
    Ask,
    ChargeResult,
    Counters,
    QuotaUnavailable,
    RateDecision,
)
from gateway.store.redis_store import DEFAULT_PREFIX, mask_url

T = TypeVar("T")
DAY_TTL_MS = DAY_TTL_S * 1000
MONTH_TTL_MS = MONTH_TTL_S * 1000

_NOW = """
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: allow writes after TIME
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] rpm; ARGV limit, window ms, unique suffix -> {allowed, count, ms until a slot frees, ms until empty}
_TAKE = (
    _NOW
    + """
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  count = count + 1
  allowed = 1
end
if count > 0 then redis.call('PEXPIRE', KEYS[1], window) end
local retry, reset = 0, 0
if count >= limit and count > 0 then
  retry = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) + window - now
end
if count > 0 then reset = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]) + window - now end
return {allowed, count, retry, reset}
"""
)

# KEYS running, seconds, usd, charge; ARGV job, ttl ms, conc limit, seconds, seconds limit, micro, micro limit
# (limit -1 = unlimited) -> {refused limit or '', its counter}
_CHARGE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('EXISTS', KEYS[4]) == 1 then return {'', 0} end
local running = redis.call('ZCARD', KEYS[1])
local seconds = tonumber(redis.call('GET', KEYS[2]) or '0')
local micro = tonumber(redis.call('GET', KEYS[3]) or '0')
local ask_s, ask_m = tonumber(ARGV[4]), tonumber(ARGV[6])
local lim_c, lim_s, lim_m = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[7])
if lim_c >= 0 and running + 1 > lim_c then return {'concurrent_jobs', running} end
if lim_s >= 0 and seconds + ask_s > lim_s then return {'video_seconds_per_day', seconds} end
if lim_m >= 0 and micro + ask_m > lim_m then return {'budget_usd_per_month', micro} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('INCRBY', KEYS[2], ask_s)
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('INCRBY', KEYS[3], ask_m)
redis.call('PEXPIRE', KEYS[3], ARGV[9])
redis.call('HSET', KEYS[4], 'seconds', ask_s, 'usd', ask_m)
redis.call('PEXPIRE', KEYS[4], ARGV[9])
return {'', 0}
"""
)

# KEYS running, seconds, usd, charge; ARGV job, refund (1/0). Once only: the charge record goes.
_SETTLE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local charged = redis.call('HMGET', KEYS[4], 'seconds', 'usd')
if not charged[1] then return 0 end
redis.call('DEL', KEYS[4])
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    if redis.call('DECRBY', KEYS[2], charged[1]) < 0 then redis.call('SET', KEYS[2], 0, 'KEEPTTL') end
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then
    if redis.call('DECRBY', KEYS[3], charged[2]) < 0 then redis.call('SET', KEYS[3], 0, 'KEEPTTL') end
  end
end
return 1
"""

# KEYS rpm, running, seconds, usd; ARGV window ms -> {requests, running, seconds, micro}
_COUNTERS = (
    _NOW
    + """
return {
  redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]) + 1, '+inf'),
  redis.call('ZCOUNT', KEYS[2], now + 1, '+inf'),
  tonumber(redis.call('GET', KEYS[3]) or '0'),
  tonumber(redis.call('GET', KEYS[4]) or '0'),
}
"""
)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisQuota:
    name = "redis"

    def __init__(
        self, url: str, *, timeout_s: float = 0.5, max_connections: int = 32, pool_wait_s: float = 5.0
    ) -> None:
        self.url = mask_url(url)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.prefix = next((v for k, v in query if k == "prefix"), None) or DEFAULT_PREFIX
        if re.search(r"[{}\s]", self.prefix):
            raise ValueError(f"quota prefix {self.prefix!r} must not contain braces or spaces")
        plain = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "prefix"])))
        # A burst waits for a pooled connection (up to pool_wait_s) instead of failing outright.
        pool = BlockingConnectionPool.from_url(
            plain,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # one quick retry: after a Redis restart the first pooled connection is dead
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), 1),
            max_connections=max_connections,
            timeout=pool_wait_s,
        )
        self._redis = Redis(connection_pool=pool)
        self._take = self._redis.register_script(_TAKE)
        self._charge = self._redis.register_script(_CHARGE)
        self._settle = self._redis.register_script(_SETTLE)
        self._counters = self._redis.register_script(_COUNTERS)
        self._seen: dict[str, tuple[float, RateDecision]] = {}

    def key(self, tenant: str, part: str) -> str:
        return "{" + f"{self.prefix}:quota:{tenant}" + "}:" + part

    def _money_keys(self, tenant: str, job_id: str, day: str, month: str) -> list[str]:
        return [
            self.key(tenant, "running"),
            self.key(tenant, f"seconds:{day}"),
            self.key(tenant, f"usd:{month}"),
            self.key(tenant, f"charge:{job_id}"),
        ]

    async def _run(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except (RedisError, OSError) as exc:
            raise QuotaUnavailable(f"redis quota {op} failed ({self.url}): {type(exc).__name__}") from exc

    async def take_request(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision:
        args: list[Any] = [limit, _ms(window_s), secrets.token_hex(6)]
        allowed, count, retry, reset = await self._run(
            "take_request", lambda: self._take(keys=[self.key(tenant, "rpm")], args=args)
        )
        decision = RateDecision(bool(allowed), limit, max(limit - int(count), 0), int(retry) / 1000, int(reset) / 1000)
        self._seen[tenant] = (time.monotonic(), decision)
        return decision

    def last_seen(self, tenant: str, limit: int, window_s: float = WINDOW_S) -> RateDecision | None:
        """What this replica last learned, aged: once the window has passed everything is free again."""
        seen = self._seen.get(tenant)
        if seen is None or seen[1].limit != limit:
            return RateDecision(True, limit, limit, 0.0, 0.0)
        seen_at, last = seen
        elapsed = time.monotonic() - seen_at
        if elapsed >= last.reset_s:
            return RateDecision(True, limit, limit, 0.0, 0.0)
        retry = max(last.retry_after_s - elapsed, 0.0)
        remaining = last.remaining if retry > 0 else max(last.remaining, 1)
        return RateDecision(True, limit, remaining, retry, last.reset_s - elapsed)

    async def charge(self, tenant: str, ask: Ask, *, job_ttl_s: float) -> ChargeResult:
        def limit(value: int | None) -> int:
            return -1 if value is None else int(value)

        args: list[Any] = [
            ask.job_id,
            _ms(job_ttl_s),
            limit(ask.concurrent_limit),
            ask.seconds,
            limit(ask.seconds_limit),
            ask.micro_usd,
            limit(ask.micro_usd_limit),
            DAY_TTL_MS,
            MONTH_TTL_MS,
        ]
        keys = self._money_keys(tenant, ask.job_id, ask.day, ask.month)
        refused, used = await self._run("charge", lambda: self._charge(keys=keys, args=args))
        return ChargeResult(refused or None, int(used), self.name)

    async def settle(
        self, tenant: str, job_id: str, day: str, month: str, *, refund: bool, where: str | None = None
    ) -> None:
        keys = self._money_keys(tenant, job_id, day, month)
        await self._run("settle", lambda: self._settle(keys=keys, args=[job_id, "1" if refund else "0"]))

    async def counters(self, tenant: str, day: str, month: str, window_s: float = WINDOW_S) -> Counters:
        keys = [
            self.key(tenant, "rpm"),
            self.key(tenant, "running"),
            self.key(tenant, f"seconds:{day}"),
            self.key(tenant, f"usd:{month}"),
        ]
        values = await self._run("counters", lambda: self._counters(keys=keys, args=[_ms(window_s)]))
        return Counters(*(int(v) for v in values))

    async def ping(self) -> None:
        await self._run("ping", self._redis.ping)

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except (RedisError, OSError):
            pass
