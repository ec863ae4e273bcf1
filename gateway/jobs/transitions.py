"""A job's moves between client-visible states, counted and logged in one place.

``job_accepted`` when a job with upstream work of its own is stored, ``job_transition`` each time a
step changes its status afterwards; both count ``sora_gateway_job_transitions_total{state,tenant}``.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.core.models import Job, Status
from gateway.observability import JOB_TRANSITIONS, log


def _entered(event: str, job: Job, **fields: Any) -> None:
    JOB_TRANSITIONS.labels(str(job.status), job.tenant).inc()
    log.info(event, video_id=job.id, tenant=job.tenant, model=job.model, **fields)


def accepted(job: Job) -> None:
    _entered(
        "job_accepted",
        job,
        seconds=job.seconds,
        segments=len(job.segments),
        adapted="; ".join(job.adapted) or None,
    )


def moved(job: Job, before: tuple[Status, int]) -> None:
    """``job`` was saved after a step that began at ``before`` (its status and progress then)."""
    if job.status != before[0]:
        _entered(
            "job_transition",
            job,
            upstream=job.upstream,
            from_status=str(before[0]),
            status=str(job.status),
            progress=job.progress,
            age_s=round(time.time() - job.created_at, 3),
            error=(job.error or {}).get("code"),
        )
    elif job.progress != before[1]:
        log.debug("job_progress", video_id=job.id, tenant=job.tenant, status=str(job.status), progress=job.progress)
