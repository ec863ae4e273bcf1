"""Admission: a create runs the stages, then hands one job to the jobs layer.

A mixin of :class:`~gateway.pipeline.service.VideoService`. The stages (``pipeline/stages.py``: auth
and policy before, then storage, content policy, rate limit, enhancement, cache, quota) may refuse,
answer at once (a cache hit, a coalesced create) or let the create go on; then
:meth:`JobDriver.launch <gateway.jobs.driver.JobDriver.launch>` stores the job and starts it. That
call is where admission ends: from there only ``gateway/jobs`` moves the job.

Durable writes: the in-process quota's write-through is deferred (:mod:`gateway.store.deferred`) and
committed with the job's record, its lease and the Idempotency-Key's claim in one write
(``JobStore.put_held``); the upstream's answer is the second (issue 20, item 2).

What admission keeps: the stages' undo. Whatever goes wrong before the job is stored, and an upstream
refusal of its first create (the jobs layer has removed the record), gives back what the stages took
(quota, the coalescing claim; the Idempotency-Key's claim is released by its own wrapper) and reaches
the client. Once the job is stored it is the jobs layer's: the client gets its job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from gateway.core.ids import new_video_id
from gateway.core.models import Job, VideoRequest
from gateway.core.plan import Plan, check_allowed, fits_elsewhere
from gateway.errors import ApiError
from gateway.jobs.driver import JobDriver
from gateway.jobs.launch import OnStored, Refused
from gateway.observability import log
from gateway.pipeline.console_stats import UsageStats
from gateway.pipeline.idempotency import note_stored, stored_with
from gateway.pipeline.stages import Admission, Created, Stage
from gateway.policies.model import Tenant
from gateway.store import deferred
from gateway.store.base import JobStore, Values
from gateway.upstreams.base import UpstreamError
from gateway.upstreams.routing import UpstreamRouter
from gateway.upstreams.runtime import UpstreamRuntime

Planner = Callable[..., Plan]  # (request, caps, *, allowed_models) -> Plan; see gateway.pipeline.planning.Planner


def upstream_refusal(exc: UpstreamError) -> ApiError:
    """An upstream error the client should see, in the client's terms."""
    if exc.client_fault:
        return ApiError(
            exc.status, exc.message, type=exc.type or "invalid_request_error", param=exc.param, code=exc.code
        )
    if exc.status in (401, 403):
        return ApiError(
            502, "The upstream refused the gateway's credentials.", type="server_error", code="upstream_auth"
        )
    return ApiError(
        503, "The upstream is unavailable; try again shortly.", type="server_error", code="upstream_unavailable"
    )


class Creates:
    """Needs from the service: ``store``, ``upstream``, ``driver``, ``stages`` and ``planner``."""

    store: JobStore
    upstream: UpstreamRouter | UpstreamRuntime
    driver: JobDriver
    stages: list[Stage]
    planner: Planner
    stats: UsageStats | None  # the console's usage over time (pipeline/console_stats.py)

    def new_job(
        self, tenant: Tenant, req: VideoRequest, plan: Plan, kind: str = "create", route: UpstreamRuntime | None = None
    ) -> Job:
        """The job record of a planned request, not yet admitted (workflows build their own plans)."""
        return self._new_job(tenant, req, plan, kind, route)

    def _new_job(
        self, tenant: Tenant, req: VideoRequest, plan: Plan, kind: str = "create", route: UpstreamRuntime | None = None
    ) -> Job:
        requested: dict[str, Any] = {
            k: v for k, v in asdict(req).items() if v is not None and k not in ("input_reference", "prompt")
        }
        if req.input_reference is not None:
            requested["input_reference"] = asdict(req.input_reference)
        requested["upstream_model"] = plan.upstream_model
        if tenant.models is not None:  # a job planned again for another provider keeps to them (jobs.replan)
            requested["allowed_models"] = list(tenant.models)
        requested.update(plan.extras)  # trim_seconds, continuity, output_format: read by the job driver
        return Job(
            id=new_video_id(),
            tenant=tenant.name,
            model=plan.model,
            prompt=req.prompt,
            size=plan.size,
            seconds=str(plan.seconds),
            kind=kind,
            segments=plan.segments,
            adapted=list(plan.adapted),
            upstream=(route or self.upstream.pick()).caps.profile,
            route=(route or self.upstream.pick()).name,
            requested=requested,
            cost_usd=plan.cost_usd,
            remixed_from_video_id=req.remix_of,
        )

    async def create(
        self,
        tenant: Tenant,
        req: VideoRequest,
        *,
        cache_control: str | None = None,
        fresh: bool = False,
        tags: dict[str, Any] | None = None,
        job_id: str | None = None,
    ) -> Created:
        """A create; ``fresh``: its own generation (never a cache hit or coalesced); ``tags`` kept on the job;
        ``job_id``: the video's id, chosen beforehand (a batch names its items before it makes them)."""
        route, plan = self._plan(tenant, req)
        caps = route.caps
        check_allowed(caps, tenant.models, plan.model)  # the planner checked it; a plan made otherwise too
        job = self._new_job(tenant, req, plan, route=route)
        if job_id is not None:
            job.id = job_id
        job.requested.update(tags or {})
        return await self.admit(Admission(tenant, req, plan, job, caps, cache_control=cache_control, fresh=fresh))

    def _plan(self, tenant: Tenant, req: VideoRequest) -> tuple[UpstreamRuntime, Plan]:
        """The first upstream (in order of preference, those taking new jobs first) whose capabilities fit the
        request, and the plan made for it; a request no upstream can do gets the first upstream's refusal."""
        refusal: ApiError | None = None
        for route in self.upstream.candidates():
            try:
                return route, self.planner(req, route.caps, allowed_models=tenant.models)
            except ApiError as exc:
                if not fits_elsewhere(exc):
                    raise
                refusal = refusal or exc
        assert refusal is not None
        raise refusal

    async def admit(self, adm: Admission, kind: str | None = None) -> Created:
        """Run the stages, then hand the job (or the one a stage answered with) to the jobs layer."""
        if kind:
            adm.job.kind = kind
        stored = False

        async def on_stored(job: Job) -> None:
            nonlocal stored
            stored = True
            await note_stored(job.id)  # an Idempotency-Key's claim now names the job (before any upstream call)

        with deferred.collecting() as pending:  # the quota's write-through goes with the job's own write
            try:
                return await self._admit(adm, pending, on_stored, lambda: stored)
            finally:
                try:
                    await deferred.flush(self.store, pending)  # what no job took (a refusal, a cache hit)
                except Exception as exc:
                    log.warning("deferred_values_failed", video_id=adm.job.id, error=repr(exc)[:300])

    async def _admit(
        self, adm: Admission, pending: dict[str, deferred.Render], on_stored: OnStored, is_stored: Callable[[], bool]
    ) -> Created:
        def with_record(job: Job) -> Values:  # one durable write: the job, its lease, the quota, the key's claim
            return [*deferred.take(pending), *stored_with(job.id)]

        try:
            ready = await self._run_stages(adm)
            job = await self.driver.launch(ready or adm.job, on_stored=on_stored, with_record=with_record)
        except Refused as refused:  # the upstream refused the first create: the record is gone
            refusal = upstream_refusal(refused.error)
            adm.job.error = {**refusal.body()["error"], "status": refusal.status}  # for the stages' undo
            await self._undo(adm)
            await self._note_refused(adm, refusal)
            raise refusal from None
        except ApiError as refusal:  # a stage refused
            if not is_stored():
                await self._undo(adm)
            await self._note_refused(adm, refusal)
            raise
        except BaseException:  # anything failed before the job was stored
            if not is_stored():
                await self._undo(adm)
            raise
        if self.stats is not None:
            await self.stats.accepted(job, saved_usd=adm.plan.cost_usd if ready is not None else 0.0)
        if ready is None and job.adapted:
            adm.headers["x-sora-gateway-adapted"] = "; ".join(job.adapted)
        return Created(job, adm.headers)

    async def _note_refused(self, adm: Admission, refusal: ApiError) -> None:
        if self.stats is not None:
            await self.stats.refused(adm.tenant.name, str(refusal.body()["error"].get("code") or refusal.status))

    async def _run_stages(self, adm: Admission) -> Job | None:
        for stage in self.stages:
            ready = await stage.admit(adm)
            if ready is not None:
                return ready  # answered at once (a cache hit, a coalesced create)
        return None

    async def _undo(self, adm: Admission) -> None:
        """Give back what the stages took; one failing undo does not stop the others."""
        for stage in reversed(self.stages):
            if stage.name in adm.charged:
                try:
                    await stage.undo(adm)
                except Exception:
                    log.exception("admission_undo_failed", video_id=adm.job.id, stage=stage.name)
