"""The job listener: a job that ends is announced as ``video.completed`` or ``video.failed``.

Registered with the video service's job events, so it runs in the driver's terminal step (and again
after a crash until it succeeded). It only writes the outbox, which is quick and idempotent; sending
is the :class:`~gateway.webhooks.sender.WebhookSender`'s, so a slow receiver never holds a job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.core.models import Job, Status
from gateway.webhooks.outbox import Outbox


class WebhookEvents:
    def __init__(self, outbox: Outbox, render: Callable[[Job], dict[str, Any]]) -> None:
        self.outbox = outbox
        self.render = render  # the video as its client's GET returns it (the seed shape for a seed create)

    async def job_finished(self, job: Job) -> None:
        event = "video.completed" if job.status == Status.COMPLETED else "video.failed"
        callback = job.requested.get("callback_url")
        await self.outbox.notify(
            job.tenant,
            event,
            self.render(job),
            callback_url=str(callback) if callback else None,
            dedupe_key=job.id,
        )

    async def job_deleted(self, job: Job) -> None:
        return None
