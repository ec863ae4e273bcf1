"""Terminal listeners: what runs once a job ends (quota release and refund, cache index, webhooks, stories).

The save that makes a job terminal also marks it ``events_pending``; the stores keep such jobs in
their active set, so the listeners run — each on its own, a failing one retried later — even if the
replica dies right after that save. The flag is cleared once they ran, or once they were given up on
after :data:`MAX_EVENT_ATTEMPTS` (then the ``on_abandoned`` listeners have their last word).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.core.models import Job
from gateway.observability import log
from gateway.store.base import EVENTS_PENDING

JobListener = Callable[[Job], Awaitable[None]]
Save = Callable[[Job], Awaitable[bool]]

EVENTS_ATTEMPTS = "events_attempts"  # Job.requested: how often the terminal listeners failed
MAX_EVENT_ATTEMPTS = 12  # then the listeners are given up on (logged); ~20 minutes of retries


class TerminalListeners:
    def __init__(self) -> None:
        self.on_terminal: list[JobListener] = []
        self.on_abandoned: list[JobListener] = []  # told when on_terminal listeners are given up on

    async def run(self, job: Job, save: Save) -> float | None:
        """Run every terminal listener, each on its own; the delay before a retry if any failed."""
        failed = 0
        for listener in self.on_terminal:
            try:
                await listener(job)
            except Exception:
                failed += 1
                log.exception("job_listener_failed", video_id=job.id, listener=getattr(listener, "__qualname__", ""))
        attempts = int(job.requested.get(EVENTS_ATTEMPTS) or 0) + 1
        if failed and attempts < MAX_EVENT_ATTEMPTS:
            job.requested[EVENTS_ATTEMPTS] = attempts
            await save(job)
            return min(120.0, 2.0**attempts)
        if failed:
            log.error("job_listeners_abandoned", video_id=job.id, attempts=attempts)
            for abandoned in self.on_abandoned:  # last words: e.g. a story's scenes fail instead of waiting
                try:
                    await abandoned(job)
                except Exception:
                    log.exception("job_abandon_listener_failed", video_id=job.id)
        job.requested.pop(EVENTS_PENDING, None)
        job.requested.pop(EVENTS_ATTEMPTS, None)
        await save(job)
        return None
