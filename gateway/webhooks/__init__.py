"""Callbacks and webhooks: signed, durable, at-least-once deliveries of job events.

* :mod:`.signing`  Standard Webhooks signatures (``whsec_`` secrets, ``v1,<base64 HMAC-SHA256>``)
* :mod:`.urls`     the SSRF guard a ``callback_url`` (and every delivery) passes
* :mod:`.pinning`  the delivery client: it connects to the addresses the guard vetted, nothing else
* :mod:`.outbox`   the durable outbox in the store: :meth:`Outbox.notify` / :meth:`Outbox.enqueue`
* :mod:`.sender`   the delivery loop (one per replica, leases in the store, retries with backoff)
* :mod:`.events`   the job listener that turns terminal jobs into ``video.completed`` / ``video.failed``
* :mod:`.stage`    the admission stage that refuses a bad ``callback_url`` before anything is charged
"""

from gateway.webhooks.outbox import EVENTS, Outbox

__all__ = ["EVENTS", "Outbox"]
