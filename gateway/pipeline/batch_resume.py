"""The loop that finishes batches whose maker died half way (:meth:`BatchService.resume`).

At start-up and every ``interval_s`` it looks at the batches still open (store collection ``batches:open``)
and resumes each whose lease has expired: the items not made yet are made under the video ids the batch
chose for them, an item already stored is taken as it is. A batch a live request (here or on another
replica) is still making is skipped: its lease is held. Each round then runs ``rounds`` (other work a dead
request left behind: the scene records of a story never stored, :mod:`gateway.pipeline.story_orphans`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from gateway.observability import log
from gateway.pipeline.batches import BatchService
from gateway.policies.model import Tenant
from gateway.tasks import cancel_and_wait


class BatchResumer:
    def __init__(
        self, batches: BatchService, tenants: Callable[[], Mapping[str, Tenant]], *, interval_s: float = 5.0
    ) -> None:
        self.batches = batches
        self.tenants = tenants
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.rounds: list[Callable[[], Awaitable[object]]] = []  # more work left by dead requests, each round

    async def run_once(self) -> int:
        """Resume every open batch nobody holds; how many were looked at."""
        resumed = 0
        for batch_id, tenant in await self.batches.open_batches():
            try:
                if await self.batches.resume(batch_id, self.tenants().get(tenant)):
                    resumed += 1
            except Exception:  # the next round tries again; one broken batch must not stop the others
                log.exception("batch_resume_failed", batch_id=batch_id)
        return resumed

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)  # first after start-up: the job loop is running by then
            try:
                await self.run_once()
            except Exception:  # the store down: try again next round
                log.exception("batch_resume_round_failed")
            for extra in self.rounds:  # e.g. scene records of stories whose request died before storing them
                try:
                    await extra()
                except Exception:
                    log.exception("resume_round_failed")

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="batch-resume")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
