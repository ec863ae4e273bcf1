"""The identical-prompt cache stage: answer a create from a finished video, or join one in flight.

The key is the request after translation (:func:`cache_key`): upstream dialect, kind, model,
size, seconds, every segment's prompt (whitespace and case normalised), style, negative prompt,
output format and the reference's sha256 (or URL / file id), scoped to the tenant unless the
tenant file says ``cache: {scope: shared}`` (``off``: no cache, no coalescing).

- **hit**: an identical job completed less than ``ttl_s`` ago and its content is still retained.
  The answer is a new job, already ``completed``, sharing the original's files (hard links) and
  upstream video (so remix and extend work); it costs nothing and no quota (QuotaStage runs after).
- **coalesced**: an identical job is still running; see :mod:`gateway.pipeline.coalesce`.
- **miss**: this create runs upstream, and is the leader for identical creates until it ends.
- **bypass**: the client sent ``Cache-Control: no-cache`` (or ``no-store``); it runs upstream,
  and its result still serves later creates.

The index (cache key -> id of the finished job) lives in the shared store when there is one
(``kv`` with a TTL: every replica sees it) and in a bounded in-process ``cachetools.TTLCache``
with ``memory://``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import Protocol

from cachetools import TTLCache

from gateway.content.base import ContentStore, ContentStoreError
from gateway.core.models import Job, Status
from gateway.jobs.follow import is_follower
from gateway.observability import DELIVERED_SECONDS, log
from gateway.pipeline import savings
from gateway.pipeline.coalesce import InFlight, make_follower, refusal_of
from gateway.pipeline.enhance import ENHANCED, enhances
from gateway.pipeline.stages import Admission
from gateway.store.base import JobStore

HIT = "cache:hit:"
INFLIGHT_TTL_S = 6 * 3600.0  # a claim outlives any generation; a dead leader is detected anyway
ATTEMPTS = 4


def normalise(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def cache_key(adm: Admission) -> str:
    """sha256 of the translated request (see the module docstring)."""
    req, plan, job = adm.request, adm.plan, adm.job
    ref = req.input_reference
    parts = {
        "v": 1,
        "scope": "shared" if adm.tenant.cache_scope == "shared" else "tenant:" + adm.tenant.name,
        "dialect": adm.caps.dialect,
        "kind": job.kind,
        "model": plan.upstream_model,
        "size": str(job.requested.get("upstream_size") or plan.size),
        "seconds": plan.seconds,
        "segments": [[s.kind, normalise(s.prompt), s.seconds, s.source_upstream_id] for s in plan.segments],
        "style": normalise(req.style_preset),
        "negative": normalise(req.negative_prompt),
        "format": normalise(req.output_format) or "mp4",  # a default written out is the same request
        "reference": (ref.sha256 or ref.image_url or ref.file_id) if ref else None,
        "extras": plan.extras,  # what the gateway does after generating (trim, format)
    }
    if enhances(adm):  # the prompts above are the originals: enhancement runs after this stage
        parts["enhance"] = True  # only when asked, so a plain create keeps the key it always had
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def carry_enhancement(job: Job, origin: Job) -> None:
    """A hit or a follower shows what its origin's enhancement did (the rewrite and the note)."""
    if origin.requested.get("enhanced_prompt"):
        job.requested["enhanced_prompt"] = origin.requested["enhanced_prompt"]
    job.adapted += [n for n in origin.adapted if n.startswith(ENHANCED) and n not in job.adapted]


def wants_bypass(cache_control: str | None) -> bool:
    directives = {d.strip().lower() for d in (cache_control or "").split(",")}
    return bool(directives & {"no-cache", "no-store", "max-age=0"})


class CacheIndex(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, job_id: str) -> None: ...

    async def drop(self, key: str, job_id: str) -> None:
        """Forget ``key`` if it still names ``job_id``."""


class LocalIndex:
    """In this process only (``memory://``): bounded by entries and age."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._entries: TTLCache[str, str] = TTLCache(maxsize=max(1, max_entries), ttl=ttl_s)

    async def get(self, key: str) -> str | None:
        return self._entries.get(key)

    async def put(self, key: str, job_id: str) -> None:
        self._entries[key] = job_id

    async def drop(self, key: str, job_id: str) -> None:
        if self._entries.get(key) == job_id:
            del self._entries[key]


class SharedIndex:
    """In the store's ``kv`` with a TTL: shared by every replica, survives restarts."""

    def __init__(self, store: JobStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s

    async def get(self, key: str) -> str | None:
        return await self.store.kv_get(HIT + key)

    async def put(self, key: str, job_id: str) -> None:
        await self.store.kv_set(HIT + key, job_id, ttl_s=self.ttl_s)

    async def drop(self, key: str, job_id: str) -> None:
        await self.store.kv_delete_if(HIT + key, job_id)  # atomic: a newer entry for the key stays


def open_index(store: JobStore, ttl_s: float, max_entries: int) -> CacheIndex:
    if store.url.startswith("memory:"):
        return LocalIndex(ttl_s, max_entries)
    return SharedIndex(store, ttl_s)


class CacheStage:
    """Admission stage and job-event listener (``VideoService.events``)."""

    name = "cache"

    def __init__(
        self,
        store: JobStore,
        content: ContentStore,
        *,
        ttl_s: float,
        retention_s: int,
        index: CacheIndex | None = None,
        max_entries: int = 100_000,
        wait_s: float = 15.0,
    ) -> None:
        self.store = store
        self.content = content
        self.ttl_s = ttl_s
        self.retention_s = retention_s
        self.index = index or open_index(store, ttl_s, max_entries)
        self.inflight = InFlight(store, ttl_s=INFLIGHT_TTL_S, wait_s=wait_s)

    # -- admission -------------------------------------------------------------
    async def admit(self, adm: Admission) -> Job | None:
        job, tenant = adm.job, adm.tenant.name
        if adm.tenant.cache_scope == "off":
            savings.record(tenant, "off")
            return None
        if adm.fresh:  # its own generation by design (a batch variation, a story): no lookup, no coalescing
            job.cache = "bypass"
            savings.record(tenant, "bypass")
            return None
        key = job.cache_key = cache_key(adm)
        if wants_bypass(adm.cache_control):
            job.cache = "bypass"
            if await self.inflight.claim(key, job.id):  # identical creates may still join this one
                adm.charged.append(self.name)
            savings.record(tenant, "bypass")
            return None
        saved = job.cost_usd
        for _ in range(ATTEMPTS):
            origin_id = await self.index.get(key)
            if origin_id:
                hit = await self._hit(adm, origin_id)
                if hit is not None:
                    savings.record(tenant, "hit", saved)
                    return hit
                await self.index.drop(key, origin_id)
            if await self.inflight.claim(key, job.id):
                job.cache = "miss"
                adm.charged.append(self.name)
                savings.record(tenant, "miss")
                return None
            leader_id = await self.inflight.leader_id(key)
            leader, joined = await self.inflight.settle_joined(key, leader_id) if leader_id else (None, False)
            if leader is None:
                continue
            if leader.status == Status.COMPLETED:
                await self.index.put(key, leader.id)  # its finish was not recorded (its replica died)
                await self.inflight.release(key, leader.id)
                continue
            if leader.status == Status.FAILED and not joined:  # over before this create came: lead anew
                await self.inflight.release(key, leader.id)
                continue
            await self.inflight.share(leader.id, self.retention_s)
            make_follower(job, leader)
            carry_enhancement(job, leader)
            self._headers(adm)
            savings.record(tenant, "coalesced", saved)
            log.info("cache_coalesced", video_id=job.id, tenant=tenant, leader=leader.id)
            return job
        job.cache = "miss"  # could not settle on a leader: run independently
        savings.record(tenant, "miss")
        return None

    async def _hit(self, adm: Admission, origin_id: str) -> Job | None:
        origin = await self.store.get(origin_id)
        now = time.time()
        if (
            origin is None
            or origin.status != Status.COMPLETED
            or (origin.completed_at or 0) + self.ttl_s < now
            or (origin.expires_at is not None and origin.expires_at < now)
        ):
            return None
        job = adm.job
        try:
            linked = await self.content.link(origin.id, job.id)
            if "video" not in linked:  # evicted: not retained any more
                await self.content.remove(job.id)
                return None
        except ContentStoreError as exc:  # the bucket is unreachable: a miss, not a failed create
            log.warning("cache_hit_unavailable", video_id=job.id, origin=origin.id, error=str(exc))
            return None
        await self.inflight.share(origin.id, self.retention_s)
        job.status, job.progress, job.error = Status.COMPLETED, 100, None
        job.completed_at = int(now)
        job.expires_at = int(now) + self.retention_s
        job.segments = copy.deepcopy(origin.segments)  # the same upstream video: remix/extend work
        job.route, job.upstream = origin.route, origin.upstream  # ... on the upstream that made it
        job.content = {**{v: "" for v, path in origin.content.items() if not path}, **linked}
        job.requested["content_of"] = origin.id
        carry_enhancement(job, origin)
        job.cache = "hit"
        job.cost_usd = 0.0
        DELIVERED_SECONDS.labels(job.tenant, job.model).inc(float(job.seconds))
        self._headers(adm)
        log.info("cache_hit", video_id=job.id, tenant=job.tenant, origin=origin.id)
        return job

    def _headers(self, adm: Admission) -> None:
        if adm.job.adapted:
            adm.headers.setdefault("x-sora-gateway-adapted", "; ".join(adm.job.adapted))

    async def undo(self, adm: Admission) -> None:
        """The leader did not happen: tell its followers why (an upstream refusal), free the key."""
        job = adm.job
        refusal = refusal_of(job)
        if refusal is not None:
            await self.inflight.refused(job.id, refusal)
        if job.cache_key:
            await self.inflight.release(job.cache_key, job.id)

    # -- job events ------------------------------------------------------------
    async def job_finished(self, job: Job) -> None:
        if not job.cache_key or job.cache == "hit" or is_follower(job):
            return
        if job.status == Status.COMPLETED and job.content.get("video"):
            await self.index.put(job.cache_key, job.id)
        await self.inflight.release(job.cache_key, job.id)

    async def job_deleted(self, job: Job) -> None:
        if job.cache_key:
            await self.index.drop(job.cache_key, job.id)
            await self.inflight.release(job.cache_key, job.id)
