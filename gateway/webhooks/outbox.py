"""The durable outbox: one store document per delivery still to be made.

A delivery is written once (its id derived from what it announces, so enqueueing the same event
again — a listener re-run after a crash — changes nothing), sent by whichever replica holds its
lease (:mod:`gateway.webhooks.sender`), and removed once the receiver answered 2xx (a ``sent:``
marker in the store's ``kv`` then keeps a late re-enqueue from sending it again). The body is fixed
when the event happens; every retry carries the same ``webhook-id`` and body.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.observability import log
from gateway.policies.model import Tenant
from gateway.store.base import JobStore

OUTBOX = "webhook_outbox"  # store document collection
SENT = "webhook-sent:"  # kv: delivery id -> "1" once a receiver acknowledged it
SENT_TTL_S = 7 * 86400.0
# events a tenant may subscribe to in ``webhooks.events`` (a new workflow adds its own here)
EVENTS: list[str] = ["video.completed", "video.failed"]


@dataclass
class Delivery:
    id: str  # the webhook-id: msg_...
    tenant: str
    event: str
    url: str
    body: str  # the exact JSON sent on every attempt
    created_at: float
    attempts: int = 0
    next_at: float = 0.0
    last_error: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> Delivery:
        return cls(**json.loads(raw))


def delivery_id(dedupe_key: str | None, event: str, url: str) -> str:
    if dedupe_key is None:
        return "msg_" + uuid.uuid4().hex
    return "msg_" + hashlib.sha256(f"{dedupe_key}\n{event}\n{url}".encode()).hexdigest()[:32]


def event_body(event: str, data: dict[str, Any], at: float | None = None) -> str:
    """``{"type", "timestamp", "data"}`` as Standard Webhooks lays out a payload."""
    stamp = datetime.fromtimestamp(at or time.time(), tz=UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event, "timestamp": stamp, "data": data}, separators=(",", ":"))


class Outbox:
    """Where events become deliveries. ``tenants`` looks a tenant up in the policies in force."""

    def __init__(self, store: JobStore, tenants: Callable[[str], Tenant | None]) -> None:
        self.store = store
        self.tenants = tenants
        self.wake: Callable[[], None] = lambda: None  # set by the sender: look at the outbox now

    def targets(self, tenant: str, event: str, callback_url: str | None) -> list[str]:
        """Where ``event`` goes: the request's ``callback_url`` and the tenant's webhook, once each."""
        urls = [callback_url] if callback_url else []
        found = self.tenants(tenant)
        hook = found.webhooks if found is not None else None
        if hook is not None and hook.url and event in hook.events and hook.url not in urls:
            urls.append(hook.url)
        return urls

    async def notify(
        self,
        tenant: str,
        event: str,
        data: dict[str, Any],
        *,
        callback_url: str | None = None,
        dedupe_key: str | None = None,
    ) -> list[str]:
        """Announce ``event`` to the request's callback and the tenant's webhook; the delivery ids."""
        ids = []
        for url in self.targets(tenant, event, callback_url):
            found = await self.enqueue(tenant, event, data, url, dedupe_key=dedupe_key)
            if found:
                ids.append(found)
        return ids

    async def enqueue(
        self, tenant: str, event: str, data: dict[str, Any], url: str, *, dedupe_key: str | None = None
    ) -> str | None:
        """Write one delivery durably; the id, or None when this very delivery was already made.

        ``dedupe_key`` (e.g. the video id) makes the call idempotent: the same key, event and URL are
        the same delivery. Raises :class:`~gateway.store.base.StoreError` (callers retry).
        """
        msg_id = delivery_id(dedupe_key, event, url)
        if await self.store.kv_get(SENT + msg_id):
            return None
        now = time.time()
        delivery = Delivery(msg_id, tenant, event, url, event_body(event, data, now), created_at=now, next_at=now)
        if await self.store.doc_put(OUTBOX, msg_id, delivery.to_json(), nx=True):
            log.info("webhook_enqueued", delivery_id=msg_id, tenant=tenant, webhook_event=event)
            self.wake()
        return msg_id

    async def pending(self) -> list[Delivery]:
        return [Delivery.from_json(raw) for _, raw in await self.store.doc_list(OUTBOX)]

    async def get(self, msg_id: str) -> Delivery | None:
        raw = await self.store.doc_get(OUTBOX, msg_id)
        return Delivery.from_json(raw) if raw is not None else None

    async def save(self, delivery: Delivery) -> None:
        await self.store.doc_put(OUTBOX, delivery.id, delivery.to_json())

    async def done(self, delivery: Delivery) -> None:
        """The receiver has it: remember that first, then drop the pending record."""
        await self.store.kv_set(SENT + delivery.id, "1", ttl_s=SENT_TTL_S)
        await self.store.doc_delete(OUTBOX, delivery.id)

    async def drop(self, delivery: Delivery) -> None:
        await self.store.doc_delete(OUTBOX, delivery.id)
