"""Move a job that never reached its upstream to another one, when its own is down.

A job accepted in the seconds before its upstream's circuit breaker opened may have had its create
refused at the door (a refused connection or a 429: surely nothing was created). If nothing of it
ever reached the upstream, and another upstream that takes new jobs has the same profile (so the
plan, price and translation stay valid), the job moves there before its next send; otherwise it
waits for its own upstream. A job that may have been created upstream never moves: that would be
the way to pay twice. Nor does a job whose source video (remix, extend, edit) lives on its upstream.
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.models import Job, SegStatus
from gateway.jobs.advance import NOT_SENT
from gateway.observability import log
from gateway.upstreams.runtime import UpstreamRuntime


class Routes(Protocol):
    routes: list[UpstreamRuntime]

    def route_of(self, job: Job) -> UpstreamRuntime: ...


def never_sent(job: Job) -> bool:
    """Nothing of this job can exist upstream: no upstream id, and no send whose outcome is unknown.

    A job built on a video of its own upstream (remix, extend, edit: ``source_upstream_id``) is not
    movable either: that video exists only there, another upstream would answer 404 for it.
    """
    if job.terminal:
        return False
    marks = job.requested.get(NOT_SENT) or {}
    for seg in job.segments:
        if seg.source_upstream_id is not None:
            return False
        if seg.upstream_id is not None or seg.status not in (SegStatus.PENDING, SegStatus.SUBMITTING):
            return False
        if seg.status == SegStatus.SUBMITTING and not marks.get(str(seg.index)):
            return False
    return True


def reroute(job: Job, router: Routes) -> None:
    """Point ``job`` at the first other upstream taking new jobs with the same profile, if it may move."""
    current = router.route_of(job)
    if current.breaker is None or current.breaker.accepts_new_jobs or not never_sent(job):
        return
    for route in router.routes:
        if (
            route is not current
            and route.breaker is not None
            and route.breaker.accepts_new_jobs
            and route.detected_at is not None
            and route.caps.profile == job.upstream
        ):
            log.info("job_rerouted", video_id=job.id, previous=current.name, upstream=route.name)
            job.route = route.name
            return
