"""Batches: one request, several variations of a prompt, each its own video (``/v1/gateway/batches``).

A batch is not a job: it is a small record in the store's ``kv`` (``batch:<id>``) listing its videos,
and its status is worked out from theirs on every read. Each variation goes through
:meth:`VideoService.create` like any create (content policy, rate limit, quota: every video counts)
with ``fresh=True``: never answered from the cache nor coalesced with a sibling, so n variations cost n
generations. Variations of one prompt differ visibly: each carries its own variation clause
(``Variation 2 of 3: …``), so the upstream (and the simulator, whose pixels follow the prompt) renders
each differently.

A tenant's batches are listed newest first (:meth:`BatchService.list`) from an index in the store's documents
(collection ``batches:<tenant>``, one entry per batch id; ids are time-prefixed, so the store's id order is
creation order); an entry whose record has expired is dropped from the index when a listing meets it.

If the first variation is refused (a bad field, content policy, quota) the whole batch is refused
with that error and nothing is kept. A later refusal (the team's quota ran out half way) does not
undo the videos already accepted: the batch is accepted and that item carries its error
(``status: partial`` once the others are done). So does a later failure inside the gateway (the store
or a Redis quota backend down): once one video is accepted the batch is always answered, never a 5xx
that would release its Idempotency-Key (a retry paying twice) and drop the uploads its videos use.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.core.ids import new_batch_id
from gateway.core.models import Job, Status, VideoRequest
from gateway.core.translate import compose_prompt
from gateway.errors import ApiError, not_found
from gateway.observability import log
from gateway.pipeline.service import VideoService
from gateway.policies.model import Tenant
from gateway.store.base import JobStore, StoreError

KV_PREFIX = "batch:"
INDEX_PREFIX = "batches:"  # store document collection per tenant: batch id -> "" (the listing's index)
BATCH_TAG = "batch_id"  # Job.requested: the batch a video belongs to


def variation_clause(index: int, count: int) -> str:
    return (
        f"Variation {index} of {count}: a distinct take on the same idea, with its own composition, "
        "camera angle and details."
    )


def variation_prompts(prompt: str | None, n: int | None, variations: list[str] | None) -> list[str]:
    """The prompt of every item: the prompt with a numbered variation clause, or with each variation."""
    if variations is not None:
        return [compose_prompt(prompt, v.strip()) if prompt else v.strip() for v in variations]
    count = int(n or 0)
    return [compose_prompt(str(prompt), variation_clause(i, count)) for i in range(1, count + 1)]


def item_failure(exc: Exception) -> dict[str, Any]:
    """The OpenAI-shaped error of an item that failed inside the gateway (a store or quota backend down)."""
    return {
        "message": "This variation could not be created: a gateway backend was unavailable "
        f"({type(exc).__name__}). The other variations are unaffected; retry this one as a new request.",
        "type": "server_error",
        "param": None,
        "code": "item_unavailable",
        "status": 503,
    }


@dataclass
class Batch:
    id: str
    tenant: str
    created_at: int
    prompts: list[str]
    items: list[dict[str, Any]] = field(default_factory=list)  # {"video_id": id} or {"error": {...}}
    callback_url: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Batch:
        return cls(**json.loads(text))


def batch_status(jobs: list[Job | None]) -> str:
    """in_progress while any video runs; then completed (all), failed (none) or partial."""
    if any(j is not None and not j.terminal for j in jobs):
        return "in_progress"
    done = sum(1 for j in jobs if j is not None and j.status == Status.COMPLETED)
    return "completed" if done == len(jobs) else "failed" if done == 0 else "partial"


class BatchService:
    def __init__(self, videos: VideoService, store: JobStore, *, ttl_s: float | None) -> None:
        self.videos = videos
        self.store = store
        self.ttl_s = ttl_s  # how long the batch record is kept (None: for ever)

    async def create(
        self,
        tenant: Tenant,
        base: VideoRequest,
        prompts: list[str],
        *,
        callback_url: str | None = None,
    ) -> tuple[Batch, list[Job | None]]:
        batch = Batch(
            id=new_batch_id(),
            tenant=tenant.name,
            created_at=int(time.time()),
            prompts=prompts,
            callback_url=callback_url,
        )
        # the record first (nothing made if the store is down), then again after every item: a replica that
        # dies half way leaves a record of what it accepted
        await self._save(batch)
        await self.store.doc_put(INDEX_PREFIX + tenant.name, batch.id, "")  # listed (nothing made yet if it fails)
        jobs: list[Job | None] = []
        for index, prompt in enumerate(prompts):
            req = replace(base, prompt=prompt)
            try:
                created = await self.videos.create(tenant, req, fresh=True, tags={BATCH_TAG: batch.id})
            except ApiError as exc:
                if index == 0:  # nothing was accepted: the batch is refused as a whole, nothing kept
                    await self._forget(batch)
                    raise
                log.info("batch_item_refused", batch_id=batch.id, item=index, code=exc.code, status=exc.status)
                batch.items.append({"error": {**exc.body()["error"], "status": exc.status}})
                jobs.append(None)
            except Exception as exc:
                if index == 0:  # nothing accepted yet: the client gets the error itself, nothing is kept
                    await self._forget(batch)
                    raise
                # earlier items are accepted, charged and upstream: the batch must still be answered (2xx,
                # with its id), so this item carries the failure instead of the whole request failing
                log.error("batch_item_failed", batch_id=batch.id, item=index, error=type(exc).__name__)
                batch.items.append({"error": item_failure(exc)})
                jobs.append(None)
            else:
                batch.items.append({"video_id": created.job.id})
                jobs.append(created.job)
            await self._save(batch)
        log.info("batch_accepted", batch_id=batch.id, tenant=tenant.name, items=len(prompts))
        return batch, jobs

    async def _forget(self, batch: Batch) -> None:
        with contextlib.suppress(StoreError):
            await self.store.kv_delete(KV_PREFIX + batch.id)
            await self.store.doc_delete(INDEX_PREFIX + batch.tenant, batch.id)

    async def _save(self, batch: Batch) -> None:
        try:
            await self.store.kv_set(KV_PREFIX + batch.id, batch.to_json(), ttl_s=self.ttl_s)
        except StoreError:
            if not batch.items:
                raise  # nothing accepted yet: the client gets the store's error and nothing is made
            # videos were accepted (and charged): they are the client's whatever happens to the record
            log.error("batch_record_unsaved", batch_id=batch.id, items=len(batch.items))

    async def get(self, tenant: Tenant, batch_id: str) -> tuple[Batch, list[Job | None]]:
        raw = await self.store.kv_get(KV_PREFIX + batch_id) if batch_id.startswith("batch_") else None
        batch = Batch.from_json(raw) if raw else None
        if batch is None or batch.tenant != tenant.name:
            raise not_found("batch", batch_id)
        return batch, await self._jobs(tenant, batch)

    async def list(
        self, tenant: Tenant, *, after: str | None = None, limit: int = 20
    ) -> tuple[list[tuple[Batch, list[Job | None]]], bool]:
        """The tenant's batches, newest first, after the batch id ``after`` (which may be gone); (page, has_more)."""
        index = INDEX_PREFIX + tenant.name
        ids = [doc_id for doc_id, _ in reversed(await self.store.doc_list(index))]
        if after is not None:
            ids = [doc_id for doc_id in ids if doc_id < after]
        page: list[tuple[Batch, list[Job | None]]] = []
        for batch_id in ids:
            if len(page) == limit:
                return page, True
            raw = await self.store.kv_get(KV_PREFIX + batch_id)
            if not raw:  # expired (or its create failed before anything was made): out of the index
                with contextlib.suppress(StoreError):
                    await self.store.doc_delete(index, batch_id)
                continue
            batch = Batch.from_json(raw)
            page.append((batch, await self._jobs(tenant, batch)))
        return page, False

    async def _jobs(self, tenant: Tenant, batch: Batch) -> list[Job | None]:
        jobs: list[Job | None] = []
        for item in batch.items:
            video_id = item.get("video_id")
            job = await self.store.get(video_id) if video_id else None
            jobs.append(job if job is not None and job.tenant == tenant.name else None)
        return jobs
