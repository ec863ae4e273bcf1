"""What a face calls: create, read, list, delete, remix, extend, edit, content.

Framework-free. Every method takes the calling tenant and only ever returns
that tenant's jobs; another tenant's id is indistinguishable from an unknown one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.content import LocalContentStore, StoredFile
from gateway.core.capabilities import Capabilities
from gateway.core.ids import new_video_id
from gateway.core.models import Job, Reference, Segment, Status, VideoRequest
from gateway.core.plan import Plan, plan_request
from gateway.errors import ApiError, invalid, not_found
from gateway.jobs.driver import JobDriver
from gateway.observability import JOB_TRANSITIONS, POLLS_ABSORBED, log
from gateway.pipeline.coalesce import upstream_shared
from gateway.pipeline.stages import Admission, JobEvents, Stage
from gateway.policies.model import Tenant
from gateway.store.base import JobStore
from gateway.upstreams.base import ContentStream, UpstreamError
from gateway.upstreams.runtime import UpstreamRuntime

VARIANTS = ("video", "thumbnail", "spritesheet")
Planner = Callable[..., Plan]  # (request, caps, *, allowed_models) -> Plan; see gateway.pipeline.planning.Planner
# what a remix or edit of a video keeps from it: the trim to the asked length, the delivery format
INHERITED = ("trim_seconds", "output_format")


@dataclass
class Created:
    job: Job
    headers: dict[str, str] = field(default_factory=dict)


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


class VideoService:
    def __init__(
        self,
        store: JobStore,
        upstream: UpstreamRuntime,
        driver: JobDriver,
        content: LocalContentStore,
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
        return job

    async def list(self, tenant: Tenant, *, after: str | None, limit: int, order: str) -> tuple[list[Job], bool]:
        return await self.store.list(tenant.name, after=after, limit=limit, order=order)

    # -- creates ---------------------------------------------------------------
    def _new_job(self, tenant: Tenant, req: VideoRequest, plan: Plan, kind: str = "create") -> Job:
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
            upstream=self.upstream.caps.profile,
            requested=requested,
            cost_usd=plan.cost_usd,
            remixed_from_video_id=req.remix_of,
        )

    async def create(self, tenant: Tenant, req: VideoRequest, *, cache_control: str | None = None) -> Created:
        caps = self.upstream.caps
        plan = self.planner(req, caps, allowed_models=tenant.models)
        if tenant.models is not None and plan.model not in tenant.models:
            raise invalid(
                f"Invalid 'model': {plan.model!r} is not allowed for this team; allowed: {', '.join(tenant.models)}.",
                "model",
                "model_not_allowed",
            )
        return await self.admit(
            Admission(tenant, req, plan, self._new_job(tenant, req, plan), caps, cache_control=cache_control)
        )

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
                self._accepted(job)
                try:
                    await self.driver.runner().submit(job, job.segments[0], self.driver.save)
                except UpstreamError as exc:
                    refusal = upstream_refusal(exc)
                    job.error = {**refusal.body()["error"], "status": refusal.status}  # for the stages' undo
                    await self.store.delete(job.id)
                    stored = False
                    await self._undo(adm)
                    undone = True
                    raise refusal from None
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

    async def _run_stages(self, adm: Admission) -> Job | None:
        for stage in self.stages:
            ready = await stage.admit(adm)
            if ready is not None:
                return ready  # answered at once (a cache hit, a coalesced create)
        return None

    async def _store_ready(self, ready: Job) -> None:
        try:
            await self.store.put(ready)
        except BaseException:
            self.media.remove(ready.id)  # a cache hit's links to files nobody will ever ask for
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

    async def _source(self, tenant: Tenant, video_id: str, endpoint: str, param: str) -> Job:
        self._require(self.upstream.caps, endpoint, param)
        source = await self.get(tenant, video_id, param)
        if source.status != Status.COMPLETED:
            raise invalid(f"Video '{video_id}' is not completed (status: {source.status}).", param, "video_not_ready")
        return source

    def _derived_plan(self, source: Job, segments: list[Segment], seconds: int, caps: Capabilities) -> Plan:
        model = str(source.requested.get("upstream_model") or source.model)
        return Plan(
            model=source.model,
            upstream_model=model,
            size=source.size,
            seconds=seconds,
            segments=segments,
            price_per_second=caps.price_per_second(model, source.size),
            extras={k: source.requested[k] for k in INHERITED if source.requested.get(k)},
        )

    async def remix(self, tenant: Tenant, video_id: str, prompt: str) -> Created:
        source = await self._source(tenant, video_id, "remix", "video_id")
        chain = (
            [source.segments[-1]]
            if len(source.segments) == 1 or source.segments[-1].kind == "extend"
            else source.segments
        )
        segments = [
            Segment(index=i, seconds=s.seconds, prompt=prompt, kind="remix", source_upstream_id=s.upstream_id)
            for i, s in enumerate(chain)
        ]
        req = VideoRequest(
            prompt=prompt, remix_of=source.id, model=source.model, size=source.size, seconds=source.seconds
        )
        plan = self._derived_plan(source, segments, int(source.seconds), self.upstream.caps)
        job = self._new_job(tenant, req, plan, "remix")
        job.requested["upstream_size"] = source.requested.get("upstream_size", source.size)
        return await self.admit(Admission(tenant, req, plan, job, self.upstream.caps))

    async def extend(self, tenant: Tenant, video: str | Reference, prompt: str, seconds: str | None) -> Created:
        """Extend a gateway video (its id, or an uploaded copy of it) or an uploaded video file."""
        caps = self.upstream.caps
        extra = int(seconds) if seconds and str(seconds).isdigit() else 0
        noted: list[str] = []
        if isinstance(video, Reference):
            self._require(caps, "extensions", "video")
            if extra not in caps.extension_seconds:
                raise self._bad_extension(seconds, caps)
            known = await self._uploaded_copy(tenant, video)
            if known is None:
                return await self._from_upload(tenant, video, prompt, "extend", extra)
            video = known.id
            noted = [f"video=file->{known.id}"]  # recognised by sha256: the upstream extends its own video
        source = await self._source(tenant, video, "extensions", "video")
        if len(source.segments) > 1 and source.segments[-1].kind != "extend":
            raise invalid("This video was stitched by the gateway and cannot be extended upstream.", "video")
        if source.requested.get("trim_seconds"):
            raise invalid("This video was trimmed by the gateway and cannot be extended upstream.", "video")
        if extra not in caps.extension_seconds:
            raise self._bad_extension(seconds, caps)
        segment = Segment(
            index=0, seconds=extra, prompt=prompt, kind="extend", source_upstream_id=source.segments[-1].upstream_id
        )
        req = VideoRequest(prompt=prompt, extend_of=source.id, model=source.model, size=source.size, seconds=str(extra))
        plan = self._derived_plan(source, [segment], int(source.seconds) + extra, caps)
        plan.adapted += noted
        return await self.admit(Admission(tenant, req, plan, self._new_job(tenant, req, plan, "extend"), caps))

    async def edit(self, tenant: Tenant, video: str | Reference, prompt: str) -> Created:
        """Edit a gateway video (its id, or an uploaded copy of it) or an uploaded video file."""
        caps = self.upstream.caps
        noted: list[str] = []
        if isinstance(video, Reference):
            self._require(caps, "edits", "video")
            known = await self._uploaded_copy(tenant, video)
            if known is None:
                return await self._from_upload(tenant, video, prompt, "edit", 0)
            video = known.id
            noted = [f"video=file->{known.id}"]
        source = await self._source(tenant, video, "edits", "video")
        if len(source.segments) > 1 and source.segments[-1].kind != "extend":
            raise invalid("This video was stitched by the gateway and cannot be edited upstream.", "video")
        segment = Segment(
            index=0,
            seconds=int(source.seconds),
            prompt=prompt,
            kind="edit",
            source_upstream_id=source.segments[-1].upstream_id,
        )
        req = VideoRequest(
            prompt=prompt, edit_of=source.id, model=source.model, size=source.size, seconds=source.seconds
        )
        plan = self._derived_plan(source, [segment], int(source.seconds), caps)
        plan.adapted += noted
        return await self.admit(Admission(tenant, req, plan, self._new_job(tenant, req, plan, "edit"), caps))

    @staticmethod
    def _bad_extension(seconds: str | None, caps: Capabilities) -> ApiError:
        allowed = ", ".join(str(s) for s in caps.extension_seconds)
        return invalid(f"Invalid 'seconds': {seconds!r}; supported extension lengths: {allowed}.", "seconds")

    @staticmethod
    def _require(caps: Capabilities, endpoint: str, param: str) -> None:
        if not caps.has(endpoint):
            raise ApiError(
                400,
                f"The upstream behind this gateway ({caps.profile}) does not support {endpoint}.",
                param=param,
                code="unsupported_by_upstream",
            )

    async def _uploaded_copy(self, tenant: Tenant, upload: Reference) -> Job | None:
        """The tenant's completed video with exactly these bytes whose upstream video is what the client has.

        Then the upstream extends (or edits) its own video: nothing is uploaded. A stitched, trimmed or
        transcoded video differs from every upstream video, so its bytes are sent instead.
        """
        if not upload.sha256:
            return None
        for job_id in await asyncio.to_thread(self.media.jobs_with_video, upload.sha256):
            job = await self.store.get(job_id)
            if (
                job is not None
                and job.tenant == tenant.name
                and job.status == Status.COMPLETED
                and job.segments
                and job.segments[-1].upstream_id
                and (len(job.segments) == 1 or job.segments[-1].kind == "extend")
                and not any(job.requested.get(k) for k in INHERITED)
            ):
                return job
        return None

    async def _from_upload(self, tenant: Tenant, upload: Reference, prompt: str, kind: str, extra: int) -> Created:
        """Extend or edit a video file the upstream never made: the file goes upstream as ``video``."""
        from gateway.core.translate import nearest_size
        from gateway.media.probe import probe_video

        caps = self.upstream.caps
        try:
            info = await asyncio.to_thread(probe_video, str(upload.path))
            length = max(1, round(float(info["duration"])))
            width, height = int(info["width"]), int(info["height"])
        except Exception:
            raise invalid("Invalid 'video': the file is not a readable video.", "video", "invalid_value") from None
        model = caps.default_model  # what the upstream uses for a file it did not make
        if tenant.models is not None and model not in tenant.models:
            model = next((m for m in tenant.models if caps.base_model(m)), model)
            if model not in tenant.models:
                raise invalid("No model this team may use can extend or edit a video.", "model", "model_not_allowed")
        upstream_model = caps.base_model(model) or model
        size = nearest_size(width, height, caps.models.get(upstream_model, (caps.default_size,)))
        generated = extra if kind == "extend" else length
        segment = Segment(index=0, seconds=generated, prompt=prompt, kind=kind)
        req = VideoRequest(prompt=prompt, model=model, size=size, seconds=str(generated))
        plan = Plan(
            model=model,
            upstream_model=upstream_model,
            size=size,
            seconds=length + extra,
            segments=[segment],
            price_per_second=caps.price_per_second(upstream_model, size),
            extras={"source_file": asdict(upload)},  # sent upstream as the file; part of the cache key
        )
        return await self.admit(Admission(tenant, req, plan, self._new_job(tenant, req, plan, kind), caps))

    # -- delete and content ----------------------------------------------------
    async def delete(self, tenant: Tenant, video_id: str) -> Job:
        job = await self.get(tenant, video_id)
        await self.store.delete(job.id)
        self.media.remove(job.id)
        for listener in self.events:
            try:
                await listener.job_deleted(job)
            except Exception:  # one failing listener must not keep the others (the quota) from hearing it
                log.exception("job_event_failed", video_id=job.id, listener=type(listener).__name__)
        if job.cache not in ("hit", "coalesced") and not await upstream_shared(self.store, job.id):
            # a cache hit or coalesced create uses another job's upstream video; one that others use stays
            upstream = self.upstream.adapter_for(job.upstream)  # the dialect the job was made in
            for seg in job.segments:
                if seg.upstream_id:
                    with contextlib.suppress(UpstreamError):
                        await asyncio.wait_for(upstream.delete(seg.upstream_id), 10)
        log.info("job_deleted", video_id=job.id, tenant=tenant.name)
        return job

    async def content(
        self, tenant: Tenant, video_id: str, variant: str, range_header: str | None = None
    ) -> StoredFile | ContentStream:
        if variant not in VARIANTS:
            raise invalid(f"Invalid 'variant': {variant!r}; expected one of {', '.join(VARIANTS)}.", "variant")
        job = await self.get(tenant, video_id)
        if job.status != Status.COMPLETED:
            raise ApiError(400, f"Video '{video_id}' is not ready (status: {job.status}).", code="video_not_ready")
        stored = self.media.find(job.id, variant) or self._shared_content(job, variant)
        if stored is not None:
            self.media.touch(job.id)  # the retention LRU clock
            return stored
        if job.content.get(variant) == "":
            raise ApiError(404, f"No {variant} is available for video '{video_id}'.", code="not_found")
        if len(job.segments) != 1 or (variant == "video" and any(job.requested.get(k) for k in INHERITED)):
            # stitched, trimmed or transcoded here: the upstream has no copy of what the client got
            raise ApiError(410, f"The {variant} of video '{video_id}' is no longer retained.", code="content_expired")
        try:
            adapter = self.upstream.adapter_for(job.upstream)
            return await adapter.open_content(str(job.segments[-1].upstream_id), variant, range_header)
        except UpstreamError as exc:
            if exc.status == 404:
                raise ApiError(
                    410, f"The {variant} of video '{video_id}' has expired.", code="content_expired"
                ) from None
            raise upstream_refusal(exc) from None

    def _shared_content(self, job: Job, variant: str) -> StoredFile | None:
        origin = job.requested.get("content_of")
        return self.media.find(str(origin), variant) if origin else None
