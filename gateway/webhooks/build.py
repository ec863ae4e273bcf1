"""Build the webhook parts from settings: the guard, the outbox, the sender, the stage and the listener."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.config import Settings
from gateway.core.models import Job
from gateway.policies.model import Tenant
from gateway.store.base import JobStore
from gateway.webhooks.events import WebhookEvents
from gateway.webhooks.outbox import Outbox
from gateway.webhooks.sender import WebhookSender
from gateway.webhooks.stage import CallbackStage
from gateway.webhooks.urls import CallbackGuard, parse_nets


@dataclass
class Webhooks:
    guard: CallbackGuard
    outbox: Outbox  # what other workflows call: ``await outbox.notify(tenant, event, data, ...)``
    sender: WebhookSender
    stage: CallbackStage
    events: WebhookEvents


def build_webhooks(
    settings: Settings,
    store: JobStore,
    tenants: Callable[[str], Tenant | None],
    render: Callable[[Job], dict[str, Any]],
) -> Webhooks:
    guard = CallbackGuard(parse_nets(settings.callback_allow_nets))
    outbox = Outbox(store, tenants)

    def secret_of(name: str) -> str | None:
        tenant = tenants(name)
        return tenant.webhooks.secret if tenant is not None and tenant.webhooks is not None else None

    sender = WebhookSender(
        outbox,
        guard,
        secret_of,
        owner=settings.replica_id,
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.webhook_max_attempts,
        retry_base_s=settings.webhook_retry_base_s,
        retry_max_s=settings.webhook_retry_max_s,
        tick_s=max(0.1, min(1.0, settings.driver_tick_s * 2.5)),
        lease_ttl_s=settings.lease_ttl_s,
    )
    return Webhooks(guard, outbox, sender, CallbackStage(guard), WebhookEvents(outbox, render))
