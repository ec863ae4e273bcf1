"""The quota's job listener: a finished or deleted job gives its slot back; a failed one its money too."""

from __future__ import annotations

from gateway.core.models import Job
from gateway.quota.service import QuotaService


class QuotaEvents:
    def __init__(self, quota: QuotaService) -> None:
        self.quota = quota

    async def job_finished(self, job: Job) -> None:
        await self.quota.job_done(job)

    async def job_deleted(self, job: Job) -> None:
        # Deleting a running job frees its slot; what was generated so far stays charged.
        await self.quota.settle(job, refund=False)
