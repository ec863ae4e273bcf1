"""Several upstreams in order of preference: new jobs go to the first that is up; running jobs stay.

Each configured upstream is an :class:`UpstreamRuntime` (its own detection, profile, dialect and
adapters) with its own :class:`Breaker`. A new job is planned for, and sent to, the first upstream
whose breaker is closed (or the first one when none is: it waits there rather than be refused);
a remix, extension or edit goes where its source video is. A job records its upstream
(``Job.route``) and keeps it to the end, so an upstream's ids, dialect and translation never mix
with another's. A prober asks each half-open upstream for its model list (free), so one that is
back takes new jobs again without risking a client's job on the trial; after a failed call it probes
a closed upstream every second too, so a dead one is found in seconds even without traffic. (Jobs
accepted in those seconds stay on it and are sent once it is back: never sent, never paid twice.)

With one upstream (``--upstream``) this is a thin shell around it: the same behaviour as before.
The router is built from the settings by :func:`gateway.upstream_setup.router_from_settings`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from gateway.core.capabilities import Capabilities
from gateway.core.models import Job
from gateway.observability import log
from gateway.tasks import cancel_and_wait
from gateway.upstreams.base import Upstream, UpstreamError
from gateway.upstreams.breaker import CLOSED, HALF_OPEN
from gateway.upstreams.runtime import UpstreamRuntime
from gateway.urls import redact_url

PROBE_S = 1.0  # how often half-open upstreams are tried


class UpstreamRouter:
    def __init__(self, routes: list[UpstreamRuntime]) -> None:
        if not routes:
            raise ValueError("at least one upstream")
        self.routes = routes
        self.by_name = {route.name: route for route in routes}
        self.on_route: Callable[[Job, UpstreamRouter], None] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- which upstream ---------------------------------------------------------------------
    def pick(self, source: Job | None = None) -> UpstreamRuntime:
        """Where a new job goes: its source's upstream, else the first one detected and not broken, else the first."""
        return self.candidates(source)[0]

    def candidates(self, source: Job | None = None) -> list[UpstreamRuntime]:
        """Where a new job may go, best first: its source's upstream alone; else every upstream taking new
        jobs (detected, breaker closed, not saturated) in order of preference, then the others (a job that
        fits none of the first waits on one of these rather than be refused)."""
        if source is not None:
            return [self.route_of(source)]
        ready = [route for route in self.routes if accepts_new_jobs(route)]
        return ready + [route for route in self.routes if route not in ready]

    def route_of(self, job: Job) -> UpstreamRuntime:
        """The upstream a job is on (records made before jobs named one: the first)."""
        return self.by_name.get(job.route or "", self.routes[0])

    def adapter_of(self, job: Job) -> Upstream:
        """The adapter a job's calls go through: its upstream, in the dialect it was created in.

        ``on_route`` (set by the app: :func:`gateway.jobs.reroute.reroute`) may first move a job that
        never reached its upstream to another one while its own is down.
        """
        if self.on_route is not None:
            self.on_route(job, self)
        return self.route_of(job).adapter_for(job.upstream)

    # -- the single-upstream interface, answered for the upstream new jobs go to --------------
    @property
    def caps(self) -> Capabilities:
        return self.pick().caps

    def current(self) -> Upstream:
        return self.pick().current()

    def adapter_for(self, profile_or_dialect: str | None) -> Upstream:
        return self.pick().adapter_for(profile_or_dialect)

    @property
    def base_url(self) -> str:
        return self.pick().base_url

    async def detect(self) -> str:
        for route in self.routes:
            await route.detect()
        return self.caps.profile

    def status(self) -> dict[str, Any]:
        """For /readyz: the upstream new jobs go to, plus every upstream with its breaker."""
        chosen = self.pick()
        result = chosen.status()
        result["upstream"] = chosen.name
        if len(self.routes) > 1 or chosen.breaker is not None:
            result["upstreams"] = [
                {
                    "name": route.name,
                    "url": redact_url(route.base_url),
                    "profile": route.caps.profile,
                    "detected": route.detected_at is not None,
                    "error": route.last_error,
                    **({"breaker": route.breaker.status()} if route.breaker else {}),
                }
                for route in self.routes
            ]
        # informational: readiness does not follow the breakers (polls and downloads need no upstream,
        # and a replica taken out of a balancer for an upstream outage would only add a second outage)
        result["accepting"] = [r.name for r in self.routes if r.breaker is None or r.breaker.accepts_new_jobs]
        return result

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        for route in self.routes:
            await route.start()
        if any(route.breaker is not None for route in self.routes):
            self._task = asyncio.create_task(self._probe_loop(), name="upstream-breaker-probe")

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(PROBE_S)
            for route in self.routes:
                breaker = route.breaker
                # half-open: the trial; closed after a failure: look again now rather than wait for traffic
                if breaker is not None and (
                    breaker.state == HALF_OPEN or (breaker.state == CLOSED and breaker.in_a_row)
                ):
                    await self._probe(route)

    @staticmethod
    async def _probe(route: UpstreamRuntime) -> None:
        """A free call through the breaker: its outcome closes or re-opens it."""
        try:
            await asyncio.wait_for(route.current().list_models(), 10)
        except (TimeoutError, UpstreamError) as exc:
            if isinstance(exc, asyncio.TimeoutError) and route.breaker is not None:
                route.breaker.failure("probe timed out")
        except Exception:
            log.exception("upstream_probe_error", upstream=route.name)
        else:
            if route.detected_at is None:  # down since the start: learn what it is now
                with contextlib.suppress(Exception):
                    await route.detect()

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        for route in self.routes:
            await route.close()


def accepts_new_jobs(route: UpstreamRuntime) -> bool:
    return (route.breaker is None or route.breaker.accepts_new_jobs) and route.detected_at is not None


def route_name(url: str, index: int, taken: list[str]) -> str:
    """A short, bounded label for a configured upstream: its host[:port] (``#n`` when repeated)."""
    netloc = urlsplit(url).netloc.rpartition("@")[2] or f"upstream-{index + 1}"  # never the userinfo
    return netloc if netloc not in taken else f"{netloc}#{index + 1}"
