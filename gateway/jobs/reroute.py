"""Move a job that never reached its upstream to another one, when its own takes no new jobs.

A job accepted in the seconds before its upstream's circuit breaker opened may have had its create
refused at the door (a refused connection: surely nothing was created), and a provider at its rate
limit, concurrency cap or spent quota answers a create 429 (nothing made either; its breaker marks it
saturated). If nothing of the job ever reached its upstream, it moves to the first other upstream
that takes new jobs: as it is when that one has the same profile (plan, price and translation stay
valid), planned again for that provider otherwise (:mod:`gateway.jobs.replan`). Else it waits for
its own upstream. A job that may have been created upstream never moves: that would be the way to
pay twice. Nor does a job whose source video (remix, extend, edit) lives on its upstream.
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.models import Job, SegStatus
from gateway.jobs.advance import NOT_SENT
from gateway.jobs.replan import Replan
from gateway.observability import log
from gateway.upstreams.routing import accepts_new_jobs
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


def turned_away(job: Job) -> bool:
    """Its last send surely made nothing (a 429, a refused connect): a move may be due."""
    return bool(job.requested.get(NOT_SENT)) and never_sent(job)


def reroute(job: Job, router: Routes, replan: Replan | None = None) -> None:
    """Point ``job`` at the first other upstream taking new jobs, if it may move (see the module doc)."""
    current = router.route_of(job)
    if current.breaker is None or current.breaker.accepts_new_jobs or not never_sent(job):
        return
    why = "at capacity" if getattr(current.breaker, "state", None) == "closed" else "down"  # closed: saturated
    for route in router.routes:
        if route is current or not accepts_new_jobs(route):
            continue
        if route.caps.profile != job.upstream and (replan is None or not replan(job, route.caps, why)):
            continue
        log.info("job_rerouted", video_id=job.id, previous=current.name, upstream=route.name, reason=why)
        job.route = route.name
        return
