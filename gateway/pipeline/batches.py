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

Every item's video id is chosen, and the record saved with the shared create fields, before any variation
is made (under a lease on the batch, renewed while the request makes them; the batch is listed as open in
collection ``batches:open``). A replica killed half way leaves a record that names every item: a read
shows the ones not made yet as ``queued``, and once the lease has expired :meth:`BatchService.resume` (run by
:mod:`gateway.pipeline.batch_resume` at start-up and every few seconds) makes the rest, each under its chosen
id: an item whose video was stored before the crash is taken as it is (its job resumes), never made twice.

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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gateway.core.ids import new_batch_id, new_video_id
from gateway.core.models import Job, Reference, Status, VideoRequest
from gateway.core.translate import compose_prompt
from gateway.errors import ApiError, not_found
from gateway.observability import log
from gateway.pipeline.idempotency import note_batch
from gateway.pipeline.leased import Held, leased
from gateway.pipeline.service import VideoService
from gateway.policies.model import Tenant
from gateway.store.base import JobStore, StoreError

KV_PREFIX = "batch:"
INDEX_PREFIX = "batches:"  # store document collection per tenant: batch id -> "" (the listing's index)
OPEN = "batches:open"  # store document collection: batch id -> tenant, while some items are not made yet
LEASE_PREFIX = "batch:"  # the store lease held by whoever makes a batch's items
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
    video_ids: list[str] = field(default_factory=list)  # every item's video id, chosen before any is made
    request: dict[str, Any] | None = None  # the shared create fields: a restarted replica makes the rest
    open: bool = False  # some items are not made yet

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Batch:
        return cls(**json.loads(text))

    def entries(self) -> list[dict[str, Any]]:
        """One item per prompt: those made, then ``{"video_id", "pending": True}`` for those not made yet."""
        pending = [
            {"video_id": self.video_ids[i] if i < len(self.video_ids) else None, "pending": True}
            for i in range(len(self.items), len(self.prompts))
        ]
        return [*self.items, *pending]


def request_record(base: VideoRequest) -> dict[str, Any]:
    return {k: v for k, v in asdict(base).items() if v is not None}


def request_of(record: dict[str, Any]) -> VideoRequest:
    fields = {"prompt": "", **record}  # each item's own prompt replaces it
    for name in ("input_reference", "last_frame"):
        if isinstance(fields.get(name), dict):
            fields[name] = Reference(**fields[name])
    if isinstance(fields.get("reference_images"), list):
        fields["reference_images"] = [Reference(**ref) for ref in fields["reference_images"]]
    return VideoRequest(**fields)


def batch_status(jobs: list[Job | None], entries: list[dict[str, Any]] | None = None) -> str:
    """in_progress while any video runs (or is not made yet); then completed (all), failed (none) or partial."""
    if any(j is not None and not j.terminal for j in jobs):
        return "in_progress"
    if any(j is None and e.get("pending") for j, e in zip(jobs, entries or [], strict=False)):
        return "in_progress"
    done = sum(1 for j in jobs if j is not None and j.status == Status.COMPLETED)
    return "completed" if done == len(jobs) else "failed" if done == 0 else "partial"


class BatchService:
    def __init__(
        self, videos: VideoService, store: JobStore, *, ttl_s: float | None, lease_ttl_s: float = 30.0
    ) -> None:
        self.videos = videos
        self.store = store
        self.ttl_s = ttl_s  # how long the batch record is kept (None: for ever)
        self.lease_ttl_s = lease_ttl_s  # a dead maker's batch is resumed this long after its last heartbeat

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
            video_ids=[new_video_id() for _ in prompts],
            request=request_record(base),
            open=True,
        )
        async with leased(self.store, LEASE_PREFIX + batch.id, self.lease_ttl_s) as held:
            assert held is not None  # a new id: nobody else holds it
            # the record first, naming every item (nothing made if the store is down), then again after every
            # item: a replica that dies half way leaves a record that a restarted one completes
            try:
                await self._save(batch)
                await self.store.doc_put(INDEX_PREFIX + tenant.name, batch.id, "")  # listed
                await self.store.doc_put(OPEN, batch.id, tenant.name)  # resumed if this replica dies half way
            except StoreError:  # nothing made yet: the client gets the store's error, no record is left
                await self._forget(batch)
                raise
            await note_batch(batch.id)  # an Idempotency-Key's retry after a crash answers with this batch
            jobs = await self._make(tenant, batch, base, held, resuming=False)
        log.info("batch_accepted", batch_id=batch.id, tenant=tenant.name, items=len(prompts))
        return batch, jobs

    async def resume(self, batch_id: str, tenant: Tenant | None) -> bool:
        """Make the items of an open batch whose maker died (its lease expired); False while another holds it."""
        async with leased(self.store, LEASE_PREFIX + batch_id, self.lease_ttl_s) as held:
            if held is None:
                return False
            raw = await self.store.kv_get(KV_PREFIX + batch_id)
            batch = Batch.from_json(raw) if raw else None
            if batch is None or not batch.open or batch.request is None:  # done, expired, or an old record
                await self.store.doc_delete(OPEN, batch_id)
                return True
            log.warning("batch_resumed", batch_id=batch.id, made=len(batch.items), items=len(batch.prompts))
            if tenant is None:  # the team is gone from the policies: nothing more is made for it
                missing = {"message": "The team no longer exists.", "type": "invalid_request_error"}
                batch.items += [{"error": {**missing, "code": "tenant_unknown", "status": 404}}] * (
                    len(batch.prompts) - len(batch.items)
                )
                await self._close(batch)
                return True
            await self._make(tenant, batch, request_of(batch.request), held, resuming=True)
            return True

    async def _make(
        self, tenant: Tenant, batch: Batch, base: VideoRequest, held: Held, *, resuming: bool
    ) -> list[Job | None]:
        """Make the items not made yet, saving the record after each; closed once all are made."""
        jobs = (await self._jobs(tenant, batch))[: len(batch.items)]
        for index in range(len(batch.items), len(batch.prompts)):
            if not held.valid:  # another replica may have taken the batch over: it makes the rest
                log.warning("batch_lease_lost", batch_id=batch.id, made=index)
                return jobs
            video_id = batch.video_ids[index] if index < len(batch.video_ids) else new_video_id()
            made = await self.store.get(video_id) if resuming else None
            if made is not None:  # stored before the crash: its job goes on, it is not made again
                batch.items.append({"video_id": made.id})
                jobs.append(made)
                await self._save(batch)
                continue
            req = replace(base, prompt=batch.prompts[index])
            try:
                created = await self.videos.create(tenant, req, fresh=True, tags={BATCH_TAG: batch.id}, job_id=video_id)
            except ApiError as exc:
                if index == 0 and not resuming:  # nothing was accepted: the batch is refused as a whole, nothing kept
                    await self._forget(batch)
                    raise
                log.info("batch_item_refused", batch_id=batch.id, item=index, code=exc.code, status=exc.status)
                batch.items.append({"error": {**exc.body()["error"], "status": exc.status}})
                jobs.append(None)
            except Exception as exc:
                if index == 0 and not resuming:  # nothing accepted yet: the client gets the error itself
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
        await self._close(batch)
        return jobs

    async def _close(self, batch: Batch) -> None:
        batch.open = False
        await self._save(batch)
        with contextlib.suppress(StoreError):  # still listed as open: a resume finds it closed and drops it
            await self.store.doc_delete(OPEN, batch.id)

    async def open_batches(self) -> list[tuple[str, str]]:
        """(batch id, tenant) of every batch whose items are not all made."""
        return await self.store.doc_list(OPEN)

    async def _forget(self, batch: Batch) -> None:
        with contextlib.suppress(StoreError):
            await self.store.kv_delete(KV_PREFIX + batch.id)
            await self.store.doc_delete(INDEX_PREFIX + batch.tenant, batch.id)
            await self.store.doc_delete(OPEN, batch.id)

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
        """The video of each of :meth:`Batch.entries` (a pending item's too, if it was stored already)."""
        jobs: list[Job | None] = []
        for item in batch.entries():
            video_id = item.get("video_id")
            job = await self.store.get(video_id) if video_id else None
            jobs.append(job if job is not None and job.tenant == tenant.name else None)
        return jobs
