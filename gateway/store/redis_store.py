"""A shared :class:`~gateway.store.base.JobStore` on Redis, for several replicas.

Key layout (``P`` is the prefix, ``sora-gateway`` unless ``?prefix=`` says otherwise):

=============================  =========================================================
``{P}:job:<id>``               string: the job record as JSON
``{P}:tenant:<tenant>``        sorted set: job ids, score ``created_at`` (ties by id)
``{P}:active``                 set: ids of jobs the driver still has work on (``is_active``)
``P:lease:<id>``               string: the owner, with a PX expiry
``P:kv:<key>``                 string: a keyed value, optional PX expiry
``P:docs:<collection>``        hash: document id -> JSON (webhook deliveries, feedback)
=============================  =========================================================

Records and their indexes share the hash tag ``{P}``, so a ``put``/``delete``
is one MULTI/EXEC (record and indexes never disagree) and a list page is one
MGET, also on Redis Cluster. Leases and values are single-key operations and
carry no tag, so they spread over the cluster. The two writes of a create span
both (one round trip each, on the one node this client talks to): ``put_held``
(record, lease, values: one MULTI) and ``update_claiming`` (record and claim:
one script). A sorted set orders equal scores
by member, which is exactly the ``(created_at, id)`` order the contract asks for.

Every redis failure surfaces as :class:`StoreError`; the pool reconnects by
itself, so the next call works again once Redis is back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from gateway.config_urls import mask_url
from gateway.core.models import Job
from gateway.store.base import StoreError, Values, id_position, is_active, load_listed

DEFAULT_PREFIX = "sora-gateway"

# KEYS[1] tenant index; ARGV after ('' = first page), count, order, the created_at the
# ``after`` id encodes ('' = none). Atomic, so a concurrent insert cannot shift the page
# between finding ``after`` and reading. A deleted ``after`` continues from the position
# (encoded created_at, id): the members before it are those with a lower score plus those
# with the same score and a lower id.
_PAGE = """
local desc = ARGV[3] == 'desc'
local start = 0
if ARGV[1] ~= '' then
  local rank
  if desc then rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
  else rank = redis.call('ZRANK', KEYS[1], ARGV[1]) end
  if rank then
    start = rank + 1
  elseif ARGV[4] == '' then
    return {}
  else
    local before = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[4])
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[4], ARGV[4])) do
      if member < ARGV[1] then before = before + 1 end
    end
    if desc then start = redis.call('ZCARD', KEYS[1]) - before else start = before end
  end
end
local stop = start + tonumber(ARGV[2]) - 1
if desc then return redis.call('ZREVRANGE', KEYS[1], start, stop) end
return redis.call('ZRANGE', KEYS[1], start, stop)
"""

# KEYS[1] record, KEYS[2] tenant index, KEYS[3] active set; ARGV id, record, created_at, active (1/0).
# Replace the record only while it exists, indexes with it.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) else redis.call('SREM', KEYS[3], ARGV[1]) end
return 1
"""

# KEYS[1] record, KEYS[2] tenant index, KEYS[3] active set, KEYS[4] claim; ARGV as _UPDATE, then owner and
# ttl ms. The claim taken unless another holds it, and the record replaced while it exists: {updated, claimed}.
_UPDATE_CLAIMING = """
local claimed = 1
if not redis.call('SET', KEYS[4], ARGV[5], 'NX', 'PX', ARGV[6]) then
  if redis.call('GET', KEYS[4]) ~= ARGV[5] then claimed = 0 end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, claimed} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) else redis.call('SREM', KEYS[3], ARGV[1]) end
return {1, claimed}
"""

# KEYS[1] value; ARGV expected. Delete only while it holds the expected value.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] lease; ARGV owner, ttl ms. Take when free (SET NX PX), extend when ours.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return 1
"""

# KEYS[1] lease; ARGV owner. Release only our own lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStore:
    """Job records, leases and keyed values in Redis (``redis.asyncio``, pooled)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retries: int = 2,
        max_connections: int = 64,
    ) -> None:
        self.url = mask_url(url)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        unknown = sorted({k for k, _ in query} - {"prefix", *URL_QUERY_ARGUMENT_PARSERS})
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)} in store URL {self.url!r}")
        url_prefix = next((v for k, v in query if k == "prefix"), None)
        self.prefix = prefix or url_prefix or DEFAULT_PREFIX
        if re.search(r"[{}\s]", self.prefix):
            raise ValueError(f"store prefix {self.prefix!r} must not contain braces or spaces")
        tag = "{" + self.prefix + "}"
        self._job = f"{tag}:job:"
        self._tenant = f"{tag}:tenant:"
        self._active = f"{tag}:active"
        self._lease = f"{self.prefix}:lease:"
        self._kv = f"{self.prefix}:kv:"
        self._docs = f"{self.prefix}:docs:"
        self._counters = f"{self.prefix}:counters:"
        plain = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "prefix"])))
        self._redis = Redis.from_url(
            plain,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries),
            max_connections=max_connections,
        )
        self._page = self._redis.register_script(_PAGE)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._update = self._redis.register_script(_UPDATE)
        self._update_claiming = self._redis.register_script(_UPDATE_CLAIMING)
        self._delete_if = self._redis.register_script(_DELETE_IF)

    @contextmanager
    def _errors(self, op: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError, ValueError) as exc:  # ValueError: a record that is not JSON
            raise StoreError(f"redis {op} failed ({self.url}): {exc}") from exc

    # -- jobs -------------------------------------------------------------

    async def put(self, job: Job) -> None:
        with self._errors("put"):
            async with self._redis.pipeline(transaction=True) as tx:
                tx.set(self._job + job.id, json.dumps(job.to_dict()))
                tx.zadd(self._tenant + job.tenant, {job.id: job.created_at})
                if is_active(job):
                    tx.sadd(self._active, job.id)
                else:
                    tx.srem(self._active, job.id)
                await tx.execute()

    async def put_held(self, job: Job, owner: str, ttl_s: float, values: Values = ()) -> None:
        with self._errors("put_held"):
            async with self._redis.pipeline(transaction=True) as tx:  # one round trip
                tx.set(self._job + job.id, json.dumps(job.to_dict()))
                tx.zadd(self._tenant + job.tenant, {job.id: job.created_at})
                if is_active(job):
                    tx.sadd(self._active, job.id)
                else:
                    tx.srem(self._active, job.id)
                tx.set(self._lease + job.id, owner, px=_ms(ttl_s))  # a new id: the lease is always ours
                for key, value, ttl in values:
                    tx.set(self._kv + key, value, px=_ms(ttl) if ttl is not None else None)
                await tx.execute()

    async def update(self, job: Job) -> bool:
        with self._errors("update"):
            keys = [self._job + job.id, self._tenant + job.tenant, self._active]
            args = [job.id, json.dumps(job.to_dict()), job.created_at, int(is_active(job))]
            return bool(await self._update(keys=keys, args=args))

    async def update_claiming(self, job: Job, key: str, owner: str, ttl_s: float) -> tuple[bool, bool]:
        with self._errors("update_claiming"):
            keys = [self._job + job.id, self._tenant + job.tenant, self._active, self._kv + key]
            args = [job.id, json.dumps(job.to_dict()), job.created_at, int(is_active(job)), owner, _ms(ttl_s)]
            updated, claimed = await self._update_claiming(keys=keys, args=args)
            return bool(updated), bool(claimed)

    async def get(self, job_id: str) -> Job | None:
        with self._errors("get"):
            raw = await self._redis.get(self._job + job_id)
            return Job.from_dict(json.loads(raw)) if raw is not None else None

    async def delete(self, job_id: str) -> bool:
        with self._errors("delete"):
            raw = await self._redis.get(self._job + job_id)  # the record names its tenant index
            async with self._redis.pipeline(transaction=True) as tx:
                tx.delete(self._job + job_id)
                tx.srem(self._active, job_id)
                if raw is not None:
                    tx.zrem(self._tenant + json.loads(raw)["tenant"], job_id)
                deleted, *_ = await tx.execute()
            return bool(deleted)

    async def list(
        self, tenant: str, *, after: str | None = None, limit: int = 20, order: str = "desc"
    ) -> tuple[list[Job], bool]:
        with self._errors("list"):
            encoded = id_position(after) if after else None
            ids: list[str] = await self._page(
                keys=[self._tenant + tenant], args=[after or "", limit + 1, order, encoded[0] if encoded else ""]
            )
            if not ids[:limit]:
                return [], bool(ids)
            raws = await self._redis.mget([self._job + i for i in ids[:limit]])
            jobs = load_listed(raws)
            return [j for j in jobs if j.tenant == tenant], len(ids) > limit

    async def active_ids(self) -> list[str]:
        with self._errors("active_ids"):
            return sorted(await self._redis.smembers(self._active))

    # -- leases -----------------------------------------------------------

    async def acquire_lease(self, job_id: str, owner: str, ttl_s: float) -> bool:
        with self._errors("acquire_lease"):
            return bool(await self._acquire(keys=[self._lease + job_id], args=[owner, _ms(ttl_s)]))

    async def release_lease(self, job_id: str, owner: str) -> None:
        with self._errors("release_lease"):
            await self._release(keys=[self._lease + job_id], args=[owner])

    # -- keyed values -----------------------------------------------------

    async def kv_get(self, key: str) -> str | None:
        with self._errors("kv_get"):
            return await self._redis.get(self._kv + key)

    async def kv_set(self, key: str, value: str, *, ttl_s: float | None = None, nx: bool = False) -> bool:
        with self._errors("kv_set"):
            px = _ms(ttl_s) if ttl_s is not None else None
            return bool(await self._redis.set(self._kv + key, value, px=px, nx=nx))

    async def kv_delete(self, key: str) -> None:
        with self._errors("kv_delete"):
            await self._redis.delete(self._kv + key)

    async def kv_delete_if(self, key: str, value: str) -> bool:
        with self._errors("kv_delete_if"):
            return bool(await self._delete_if(keys=[self._kv + key], args=[value]))

    # -- documents --------------------------------------------------------

    async def doc_put(self, collection: str, doc_id: str, data: str, *, nx: bool = False) -> bool:
        with self._errors("doc_put"):
            if nx:
                return bool(await self._redis.hsetnx(self._docs + collection, doc_id, data))
            await self._redis.hset(self._docs + collection, doc_id, data)
            return True

    async def doc_get(self, collection: str, doc_id: str) -> str | None:
        with self._errors("doc_get"):
            value: str | None = await self._redis.hget(self._docs + collection, doc_id)
            return value

    async def doc_delete(self, collection: str, doc_id: str) -> bool:
        with self._errors("doc_delete"):
            return bool(await self._redis.hdel(self._docs + collection, doc_id))

    async def doc_list(self, collection: str) -> list[tuple[str, str]]:
        with self._errors("doc_list"):
            found: dict[str, str] = await self._redis.hgetall(self._docs + collection)
            return sorted(found.items())

    # -- lifecycle --------------------------------------------------------

    # -- counters ---------------------------------------------------------

    async def counters_add(self, keys: list[tuple[str, float]], deltas: dict[str, float]) -> None:
        with self._errors("counters_add"):
            async with self._redis.pipeline(transaction=False) as tx:  # one round trip; each field atomic
                for key, ttl_s in keys:
                    for name, delta in deltas.items():
                        tx.hincrbyfloat(self._counters + key, name, float(delta))
                    tx.expire(self._counters + key, max(1, int(ttl_s)))
                await tx.execute()

    async def counters_get(self, keys: list[str]) -> list[dict[str, float]]:
        with self._errors("counters_get"):
            async with self._redis.pipeline(transaction=False) as tx:
                for key in keys:
                    tx.hgetall(self._counters + key)
                found = await tx.execute()
            return [{name: float(value) for name, value in fields.items()} for fields in found]

    async def ping(self) -> None:
        with self._errors("ping"):
            await self._redis.ping()

    async def close(self) -> None:
        with self._errors("close"):
            await self._redis.aclose()
