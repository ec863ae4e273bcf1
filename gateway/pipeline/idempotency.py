"""Client idempotency: ``Idempotency-Key`` on creates, per tenant, for ``idempotency_ttl_s`` (24 h).

Framework-free; any face calls :meth:`IdempotencyKeys.run` around the create it answers (see
:mod:`gateway.faces.creates` for the HTTP side). The record lives in the store's ``kv`` (memory,
SQLite, Redis), so it is durable where the store is, and shared by every replica on one Redis:

* the first request claims the key atomically (``kv_set nx``) with a *pending* record holding the
  body's fingerprint, runs the create and replaces the record with the response it gave;
* the same key with the same body gets that response again (no new job, no new charge); while the
  first is still running, it waits for it (one upstream generation, whichever replica it reached);
* the same key with another body is a 409 ``idempotency_key_reused``;
* a create that was refused (or failed) releases the key: nothing was made, a retry may succeed;
* once the create's job is stored (:func:`note_stored`, the ``on_stored`` callback admission hands the jobs
  layer with the job: it runs before any upstream call) the claim names it and lasts as long as an answer
  would (a batch's record is named too, :func:`note_batch`, before its first item);
* the request holding a claim holds a lease on it (:mod:`gateway.pipeline.leased`, renewed while it runs). A
  retry that finds the claim pending and its lease expired (the holder died with its process) takes the claim
  over: when the claim names what the first request made, the face's ``resume`` answers with that work (the
  same video or batch, which the job loop and the batch resumer carry on; no second generation, no second
  charge); when it names nothing (the first died before storing anything), the retry runs the create itself.
  Without a ``resume`` the retry is told which video its first request made (409 ``idempotency_key_in_progress``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.errors import ApiError, invalid
from gateway.observability import log
from gateway.pipeline.leased import leased
from gateway.store.base import JobStore

MAX_KEY_CHARS = 255
POLL_S = 0.1
LEASE_PREFIX = "idem-claim:"  # + the claim's token: the store lease its holder renews while it runs


@dataclass
class Answer:
    """A response as the face gave it: replayed byte for byte (with ``idempotent-replayed: true``)."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


Resume = Callable[[dict[str, Any]], Awaitable[Answer]]  # the answer for what a dead holder's claim names


@dataclass
class _Claim:
    """The pending record of the create running in this context (see :func:`note_stored`)."""

    store: JobStore
    kv_key: str
    record: dict[str, Any]
    value: str
    ttl_s: float
    naming: tuple[str, dict[str, Any], str] | None = None  # (job id, record, value) stored with that job


_CLAIM: ContextVar[_Claim | None] = ContextVar("idempotency_claim", default=None)


def stored_with(job_id: str) -> list[tuple[str, str, float | None]]:
    """The claim naming job ``job_id`` as a keyed value to store in the same write as the job (admission's
    ``with_record``; :func:`note_stored` then takes it as written); none without a key."""
    claim = _CLAIM.get()
    if claim is None:
        return []
    record = {**claim.record, "jobs": [*claim.record.get("jobs", []), job_id]}
    claim.naming = (job_id, record, json.dumps(record))
    return [(claim.kv_key, claim.naming[2], claim.ttl_s)]


async def note_stored(job_id: str) -> None:
    """The create holding an Idempotency-Key stored job ``job_id``: keep that in the claim, for as long as
    the answer would be kept. Called (through admission's ``on_stored``) right after the job is stored, before any
    upstream call; a no-op without a key. A claim :func:`stored_with` gave for this job was written with it."""
    claim = _CLAIM.get()
    if claim is None:
        return
    if claim.naming is not None and claim.naming[0] == job_id:
        _, claim.record, claim.value = claim.naming
        claim.naming = None
        return
    claim.record.setdefault("jobs", []).append(job_id)
    await _keep(claim)


async def note_batch(batch_id: str) -> None:
    """The create holding an Idempotency-Key saved batch ``batch_id`` (before any item); a no-op without a key."""
    claim = _CLAIM.get()
    if claim is None:
        return
    claim.record["batch"] = batch_id
    await _keep(claim)


async def _keep(claim: _Claim) -> None:
    value = json.dumps(claim.record)
    try:
        await claim.store.kv_set(claim.kv_key, value, ttl_s=claim.ttl_s)
        claim.value = value
    except Exception:  # the short claim still guards the key; the job itself is safe in the store
        pass


class IdempotencyKeys:
    def __init__(
        self,
        store: JobStore,
        *,
        ttl_s: float = 86400.0,
        pending_s: float = 600.0,
        wait_s: float = 60.0,
        lease_ttl_s: float = 15.0,
    ):
        self.store = store
        self.ttl_s = ttl_s  # how long an answered key replays
        self.pending_s = pending_s  # a claim whose holder died (before storing anything) frees itself after this
        self.wait_s = wait_s  # how long a duplicate waits for the first to answer before a 409
        self.lease_ttl_s = lease_ttl_s  # a dead holder's claim is taken over this long after its last heartbeat

    @staticmethod
    def check_key(key: str) -> str:
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
            raise invalid(
                f"Invalid 'Idempotency-Key' header: expected 1-{MAX_KEY_CHARS} printable characters.",
                "Idempotency-Key",
                "invalid_idempotency_key",
            )
        return key

    def _kv_key(self, tenant: str, key: str) -> str:
        from hashlib import sha256

        return f"idem:{tenant}:{sha256(key.encode('utf-8', 'replace')).hexdigest()}"

    async def run(
        self,
        tenant: str,
        key: str,
        fingerprint: str,
        produce: Callable[[], Awaitable[Answer]],
        resume: Resume | None = None,
    ) -> tuple[Answer, bool]:
        """The answer for ``key`` and whether it is a replay; ``produce`` runs at most once per key, unless its
        holder died before storing anything. ``resume`` answers for the work a dead holder's claim names."""
        kv_key = self._kv_key(tenant, self.check_key(key))
        deadline = time.monotonic() + self.wait_s
        while True:
            raw = await self.store.kv_get(kv_key)
            if raw is None:  # free: claim it
                token = uuid.uuid4().hex
                pending = json.dumps({"state": "pending", "fp": fingerprint, "token": token})
                # the lease before the claim (a new token: always ours), so no duplicate ever finds the claim
                # without a live lease and takes it over from a holder that is only starting
                async with leased(self.store, LEASE_PREFIX + token, self.lease_ttl_s):
                    if await self.store.kv_set(kv_key, pending, ttl_s=self.pending_s, nx=True):
                        claim = _Claim(self.store, kv_key, json.loads(pending), pending, self.ttl_s)
                        return await self._produce(claim, fingerprint, produce), False
                continue  # claimed by another in between: read it
            record = json.loads(raw)
            if record.get("fp") != fingerprint:
                raise ApiError(
                    409,
                    "This Idempotency-Key was already used with a different request body (or endpoint); "
                    "use a new key for a new request.",
                    param="Idempotency-Key",
                    code="idempotency_key_reused",
                )
            if record.get("state") == "done":
                return Answer(**record["answer"]), True
            taken = await self._take_over(kv_key, raw, record, fingerprint, produce, resume)
            if taken is not None:
                return taken
            if time.monotonic() > deadline:
                made = record.get("jobs") or []
                raise ApiError(
                    409,
                    "A request with this Idempotency-Key is still being processed; retry shortly."
                    + (f" It made video {made[0]!r} (GET /v1/videos/{made[0]})." if made else ""),
                    param="Idempotency-Key",
                    code="idempotency_key_in_progress",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(POLL_S)

    async def _take_over(
        self,
        kv_key: str,
        raw: str,
        record: dict[str, Any],
        fingerprint: str,
        produce: Callable[[], Awaitable[Answer]],
        resume: Resume | None,
    ) -> tuple[Answer, bool] | None:
        """Carry on a pending claim whose holder died (its lease expired); ``None`` while it lives (or no
        ``resume`` answers for what it made)."""
        made = bool(record.get("jobs") or record.get("batch"))
        if not record.get("token") or (made and resume is None):
            return None
        async with leased(self.store, LEASE_PREFIX + str(record["token"]), self.lease_ttl_s) as held:
            if held is None or await self.store.kv_get(kv_key) != raw:
                return None  # the holder lives, or the claim changed meanwhile: look again
            log.warning("idempotency_key_taken_over", made=made)
            claim = _Claim(self.store, kv_key, record, raw, self.ttl_s)
            if not made:  # the first died before storing anything: nothing was sent, this request makes it
                return await self._produce(claim, fingerprint, produce), False
            assert resume is not None
            answer = await resume(record)
            if 200 <= answer.status < 300:
                done = json.dumps({"state": "done", "fp": fingerprint, "answer": asdict(answer)})
                await self.store.kv_set(kv_key, done, ttl_s=self.ttl_s)
            return answer, True

    async def _produce(self, claim: _Claim, fingerprint: str, produce: Callable[[], Awaitable[Answer]]) -> Answer:
        token = _CLAIM.set(claim)
        try:
            answer = await produce()
        except BaseException:
            await asyncio.shield(self._release(claim))
            raise
        finally:
            _CLAIM.reset(token)
        if 200 <= answer.status < 300:
            done = json.dumps({"state": "done", "fp": fingerprint, "answer": asdict(answer)})
            await self.store.kv_set(claim.kv_key, done, ttl_s=self.ttl_s)
        else:  # a refusal made nothing: the key is free for a corrected retry
            await self._release(claim)
        return answer

    async def _release(self, claim: _Claim) -> None:
        try:
            await self.store.kv_delete_if(claim.kv_key, claim.value)
        except Exception:  # the claim expires by itself after pending_s
            pass
