"""The admission stage for ``callback_url``: refused (400 ``invalid_callback_url``) before anything is charged."""

from __future__ import annotations

from gateway.core.models import Job
from gateway.pipeline.stages import Admission
from gateway.webhooks.urls import CallbackGuard


class CallbackStage:
    name = "callback_url"

    def __init__(self, guard: CallbackGuard) -> None:
        self.guard = guard

    async def admit(self, admission: Admission) -> Job | None:
        url = admission.request.callback_url
        if url is not None:
            await self.guard.check(url)
        return None

    async def undo(self, admission: Admission) -> None:
        return None
