"""What a face calls: create, read, list, delete, remix, extend, edit, content.

Framework-free. Every method takes the calling tenant and only ever returns
that tenant's jobs; another tenant's id is indistinguishable from an unknown one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from gateway.content import ContentRedirect, ContentStore, ContentStoreError, Stored, StoredFile
from gateway.content.local import RangeProblem
from gateway.content.ranges import RangeNotSatisfiable
from gateway.core.ids import new_video_id
from gateway.core.models import Job, Status, VideoRequest
from gateway.core.plan import Plan, plan_request
from gateway.errors import ApiError, invalid, not_found
from gateway.jobs.driver import JobDriver
from gateway.observability import JOB_TRANSITIONS, POLLS_ABSORBED, log
from gateway.pipeline.coalesce import upstream_shared
from gateway.pipeline.derived import INHERITED, DerivedCreates
from gateway.pipeline.idempotency import note_stored
from gateway.pipeline.stages import Admission, Created, JobEvents, Stage
from gateway.policies.model import Tenant
from gateway.store.base import EVENTS_PENDING, JobStore
from gateway.upstreams.base import ContentStream, UpstreamError
from gateway.upstreams.routing import UpstreamRouter
from gateway.upstreams.runtime import UpstreamRuntime

VARIANTS = ("video", "thumbnail", "spritesheet")
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


class VideoService(DerivedCreates):
    def __init__(
        self,
        store: JobStore,
        upstream: UpstreamRouter | UpstreamRuntime,
        driver: JobDriver,
        content: ContentStore,
        *,
        stages: list[Stage] | None = None,
        planner: Planner = plan_request,
        events: list[JobEvents] | None = None,
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.driver = driver
        self.media = content
        self.stages: list[Stage] = list(stages or [])
        self.planner = planner
        self.events: list[JobEvents] = list(events or [])
        # what a client reads of a record another job drives (a story's scene: its progress in the film)
        self.views: list[Callable[[Job], Awaitable[Job]]] = []
        driver.on_terminal.append(self._finished)

    async def _finished(self, job: Job) -> None:
        """Tell every listener, each on its own; raise the first failure afterwards (the driver retries)."""
        failure: Exception | None = None
        for listener in self.events:
            try:
                await listener.job_finished(job)
            except Exception as exc:
                log.exception("job_event_failed", video_id=job.id, listener=type(listener).__name__)
                failure = failure or exc
        if failure is not None:
            raise failure

    # -- reads -----------------------------------------------------------------
    async def get(self, tenant: Tenant, video_id: str, param: str | None = None) -> Job:
        job = await self.store.get(video_id)
        if job is None or job.tenant != tenant.name:
            raise not_found("video", video_id, param)
        return job

    async def retrieve(self, tenant: Tenant, video_id: str) -> Job:
        job = await self.get(tenant, video_id)
        POLLS_ABSORBED.labels(tenant.name).inc()
        return await self._view(job)

    async def list(self, tenant: Tenant, *, after: str | None, limit: int, order: str) -> tuple[list[Job], bool]:
        jobs, more = await self.store.list(tenant.name, after=after, limit=limit, order=order)
        return [await self._view(job) for job in jobs], more

    async def _view(self, job: Job) -> Job:
        for view in self.views:
            job = await view(job)
        return job

    # -- creates ---------------------------------------------------------------
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
    ) -> Created:
        """A create; ``fresh``: its own generation (never a cache hit or coalesced); ``tags`` kept on the job."""
        route = self.upstream.pick()  # the first upstream that is up: planned for it, sent to it
        caps = route.caps
        plan = self.planner(req, caps, allowed_models=tenant.models)
        if tenant.models is not None and plan.model not in tenant.models:
            raise invalid(
                f"Invalid 'model': {plan.model!r} is not allowed for this team; allowed: {', '.join(tenant.models)}.",
                "model",
                "model_not_allowed",
            )
        job = self._new_job(tenant, req, plan, route=route)
        job.requested.update(tags or {})
        return await self.admit(Admission(tenant, req, plan, job, caps, cache_control=cache_control, fresh=fresh))

    async def admit(self, adm: Admission, kind: str | None = None) -> Created:
        """Run the stages, store the job and send its first upstream create.

        Whatever goes wrong before the job is stored (a refusal, a store or programming error) gives
        back what the stages took and reaches the client. Once it is stored, the job is the driver's:
        an error after that is logged and the job is answered as accepted (the driver re-sends the
        create with the same idempotency key), so a charge never exists without its job.
        """
        if kind:
            adm.job.kind = kind
        try:
            ready = await self._run_stages(adm)
            if ready is not None:
                await self._store_ready(ready)
                return Created(ready, adm.headers)
        except BaseException:  # a stage refused, or anything failed: give back what the stages took
            await self._undo(adm)
            raise
        job = adm.job
        stored = undone = False
        try:
            async with self.driver.holding(job.id):
                await self.store.put(job)
                stored = True
                await note_stored(job.id)  # an Idempotency-Key's claim now names the job (before any upstream call)
                self._accepted(job)
                try:
                    await self.driver.submit_first(job)  # the fair queue may hold it back
                except UpstreamError as exc:
                    refusal = upstream_refusal(exc)
                    job.error = {**refusal.body()["error"], "status": refusal.status}  # for the stages' undo
                    await self.store.delete(job.id)
                    stored = False
                    await self._undo(adm)
                    undone = True
                    raise refusal from None
                await self._share_uploads(job)  # accepted: no upload of a refused create is kept
                await self.driver.save(job)
        except BaseException as exc:
            if not stored:
                if not undone:
                    await self._undo(adm)
                    with contextlib.suppress(Exception):  # the put may have landed before it failed
                        await self.store.delete(job.id)
                raise
            if not isinstance(exc, Exception):  # cancelled: the stored job is the driver's anyway
                raise
            # stored: the driver owns it now and retries the submit; the client gets its job
            log.warning("admission_left_to_driver", video_id=job.id, tenant=job.tenant, error=repr(exc)[:300])
        self.driver.wake(job.id)
        if job.adapted:
            adm.headers["x-sora-gateway-adapted"] = "; ".join(job.adapted)
        return Created(job, adm.headers)

    async def _share_uploads(self, job: Job) -> None:
        """Put the client's uploaded files where every replica can send them (a no-op on file://)."""
        for ref in (job.requested_reference(), job.requested_source_file()):
            if ref is not None and ref.path:
                try:
                    await self.media.keep_upload(ref)
                except ContentStoreError as exc:  # this replica still has the file and sends it now
                    log.warning("upload_not_shared", video_id=job.id, error=str(exc))

    async def _run_stages(self, adm: Admission) -> Job | None:
        for stage in self.stages:
            ready = await stage.admit(adm)
            if ready is not None:
                return ready  # answered at once (a cache hit, a coalesced create)
        return None

    async def _store_ready(self, ready: Job) -> None:
        if ready.terminal:  # a cache hit: the driver runs the terminal listeners (its callback) once
            ready.requested[EVENTS_PENDING] = True
        try:
            await self.store.put(ready)
        except BaseException:
            with contextlib.suppress(ContentStoreError):
                await self.media.remove(ready.id)  # a cache hit's links to files nobody will ever ask for
            raise

    def _accepted(self, job: Job) -> None:
        JOB_TRANSITIONS.labels(str(job.status), job.tenant).inc()
        log.info(
            "job_accepted",
            video_id=job.id,
            tenant=job.tenant,
            model=job.model,
            seconds=job.seconds,
            segments=len(job.segments),
            adapted="; ".join(job.adapted) or None,
        )

    async def _undo(self, adm: Admission) -> None:
        """Give back what the stages took; one failing undo does not stop the others."""
        for stage in reversed(self.stages):
            if stage.name in adm.charged:
                try:
                    await stage.undo(adm)
                except Exception:
                    log.exception("admission_undo_failed", video_id=adm.job.id, stage=stage.name)

    # -- delete and content ----------------------------------------------------
    async def delete(self, tenant: Tenant, video_id: str) -> Job:
        job = await self.get(tenant, video_id)
        await self.store.delete(job.id)
        try:
            await self.media.remove(job.id)
        except ContentStoreError as exc:  # the record is gone; the janitor's age rule removes the objects
            log.warning("content_remove_failed", video_id=job.id, error=str(exc))
        for listener in self.events:
            try:
                await listener.job_deleted(job)
            except Exception:  # one failing listener must not keep the others (the quota) from hearing it
                log.exception("job_event_failed", video_id=job.id, listener=type(listener).__name__)
        if job.cache not in ("hit", "coalesced") and not await upstream_shared(self.store, job.id):
            # a cache hit or coalesced create uses another job's upstream video; one that others use stays
            upstream = self.upstream.adapter_of(job)  # the upstream and dialect the job was made on
            for seg in job.segments:
                if seg.upstream_id:
                    with contextlib.suppress(UpstreamError):
                        await asyncio.wait_for(upstream.delete(seg.upstream_id), 10)
        log.info("job_deleted", video_id=job.id, tenant=tenant.name)
        return job

    async def content(
        self, tenant: Tenant, video_id: str, variant: str, range_header: str | None = None
    ) -> StoredFile | ContentStream | ContentRedirect:
        if variant not in VARIANTS:
            raise invalid(f"Invalid 'variant': {variant!r}; expected one of {', '.join(VARIANTS)}.", "variant")
        job = await self.get(tenant, video_id)
        if job.status != Status.COMPLETED:
            raise ApiError(400, f"Video '{video_id}' is not ready (status: {job.status}).", code="video_not_ready")
        served = await self._retained(job, variant, range_header)
        if served is not None:
            return served
        if job.content.get(variant) == "":
            raise ApiError(404, f"No {variant} is available for video '{video_id}'.", code="not_found")
        if len(job.segments) != 1 or (variant == "video" and any(job.requested.get(k) for k in INHERITED)):
            # stitched, trimmed or transcoded here: the upstream has no copy of what the client got
            raise ApiError(410, f"The {variant} of video '{video_id}' is no longer retained.", code="content_expired")
        try:
            adapter = self.upstream.adapter_of(job)
            return await adapter.open_content(str(job.segments[-1].upstream_id), variant, range_header)
        except UpstreamError as exc:
            if exc.status == 404:
                raise ApiError(
                    410, f"The {variant} of video '{video_id}' has expired.", code="content_expired"
                ) from None
            raise upstream_refusal(exc) from None

    async def _retained(
        self, job: Job, variant: str, range_header: str | None
    ) -> StoredFile | ContentStream | ContentRedirect | None:
        """The kept copy, as the content store serves it; ``None``: not kept (any more)."""
        try:
            stored = await self.media.find(job.id, variant) or await self._shared_content(job, variant)
            if stored is None:
                return None
            await self.media.touch(job.id)  # the retention LRU clock
            return await self.media.serve(stored, range_header)
        except RangeProblem as exc:  # the same refusal as a file on disk gets (faces/openai_videos.py)
            extra = {"content-range": f"bytes */{exc.size}"} if exc.status == 416 else {}
            raise ApiError(exc.status, exc.message, param="Range", code="invalid_range", headers=extra) from None
        except RangeNotSatisfiable as exc:
            raise ApiError(
                416,
                f"The requested range is not satisfiable: the {variant} is {exc.size} bytes.",
                param="Range",
                code="invalid_range",
                headers={"content-range": f"bytes */{exc.size}"},
            ) from None
        except ContentStoreError as exc:
            log.warning("content_store_unavailable", video_id=job.id, error=str(exc))
            raise ApiError(
                503,
                "The content store is unavailable; try again shortly.",
                type="server_error",
                code="content_store_unavailable",
            ) from None

    async def _shared_content(self, job: Job, variant: str) -> Stored | None:
        origin = job.requested.get("content_of")
        return await self.media.find(str(origin), variant) if origin else None
