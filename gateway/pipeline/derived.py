"""Creates made from an existing video: remix, extend, edit (by id, by an uploaded copy, or by a new file).

A mixin of :class:`~gateway.pipeline.service.VideoService`: it builds the derived plan and hands it to the
service's ``admit``, so derived creates pass the same stages (policy, quota, cache) as any other.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from gateway.content import ContentStore
from gateway.core.capabilities import Capabilities
from gateway.core.model_list import allows
from gateway.core.models import Job, Reference, Segment, Status, VideoRequest
from gateway.core.plan import Plan
from gateway.core.translate import parse_seconds, round_up
from gateway.errors import ApiError, invalid
from gateway.pipeline.remixes import INHERITED, PART_SECONDS, remix_segments, upstream_seconds
from gateway.pipeline.stages import Admission, Created
from gateway.policies.model import Tenant
from gateway.store.base import JobStore
from gateway.upstreams.routing import UpstreamRouter
from gateway.upstreams.runtime import UpstreamRuntime


class DerivedCreates:
    """Needs from the service: ``upstream``, ``store``, ``media``, ``get``, ``_new_job`` and ``admit``."""

    upstream: UpstreamRouter | UpstreamRuntime
    store: JobStore
    media: ContentStore

    async def get(self, tenant: Tenant, video_id: str, param: str | None = None) -> Job:
        raise NotImplementedError

    def _new_job(
        self, tenant: Tenant, req: VideoRequest, plan: Plan, kind: str = "create", route: UpstreamRuntime | None = None
    ) -> Job:
        raise NotImplementedError

    async def admit(self, adm: Admission, kind: str | None = None) -> Created:
        raise NotImplementedError

    async def _source(self, tenant: Tenant, video_id: str, endpoint: str, param: str) -> Job:
        self._require(self.upstream.caps, endpoint, param)
        source = await self.get(tenant, video_id, param)
        if source.status != Status.COMPLETED:
            raise invalid(f"Video '{video_id}' is not completed (status: {source.status}).", param, "video_not_ready")
        if not source.segments or not source.segments[-1].upstream_id:  # a story's scene, cut by the gateway
            raise invalid(f"Video '{video_id}' was cut by the gateway and has no upstream video to {endpoint}.", param)
        self._require(self.upstream.pick(source).caps, endpoint, param)  # the upstream its video is on
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

    async def remix(self, tenant: Tenant, video_id: str, prompt: str, *, callback_url: str | None = None) -> Created:
        """The whole video remixed, and every second the upstream makes charged (:func:`remix_segments`)."""
        source = await self._source(tenant, video_id, "remix", "video_id")
        segments, notes = remix_segments(source, prompt)
        req = VideoRequest(
            prompt=prompt,
            remix_of=source.id,
            model=source.model,
            size=source.size,
            seconds=source.seconds,
            callback_url=callback_url,
        )
        route = self.upstream.pick(source)  # a derived video is made where its source is
        plan = self._derived_plan(source, segments, int(source.seconds), route.caps)
        plan.adapted += notes
        if source.requested.get(PART_SECONDS):  # a story's film: each remixed part is cut as the scene's was
            plan.extras[PART_SECONDS] = source.requested[PART_SECONDS]
        job = self._new_job(tenant, req, plan, "remix", route)
        job.requested["upstream_size"] = source.requested.get("upstream_size", source.size)
        return await self.admit(Admission(tenant, req, plan, job, route.caps))

    async def extend(
        self,
        tenant: Tenant,
        video: str | Reference,
        prompt: str,
        seconds: str | None,
        *,
        callback_url: str | None = None,
    ) -> Created:
        """Extend a gateway video (its id, or an uploaded copy of it) or an uploaded video file; the new video's
        end is announced at ``callback_url`` (as a create's)."""
        caps = self.upstream.caps
        noted: list[str] = []
        if isinstance(video, Reference):
            self._require(caps, "extensions", "video")
            extra, generated, seconds_notes = self._extension_length(seconds, caps)
            known = await self._uploaded_copy(tenant, video)
            if known is None:
                return await self._from_upload(tenant, video, prompt, "extend", extra, generated, callback_url)
            video = known.id
            noted = [f"video=file->{known.id}"]  # recognised by sha256: the upstream extends its own video
        source = await self._source(tenant, video, "extensions", "video")
        route = self.upstream.pick(source)
        caps = route.caps
        if len(source.segments) > 1 and source.segments[-1].kind != "extend":
            raise invalid("This video was stitched by the gateway and cannot be extended upstream.", "video")
        if source.requested.get("trim_seconds"):
            raise invalid("This video was trimmed by the gateway and cannot be extended upstream.", "video")
        extra, generated, seconds_notes = self._extension_length(seconds, caps)
        segment = Segment(
            index=0, seconds=generated, prompt=prompt, kind="extend", source_upstream_id=source.segments[-1].upstream_id
        )
        req = VideoRequest(
            prompt=prompt,
            extend_of=source.id,
            model=source.model,
            size=source.size,
            seconds=str(extra),
            callback_url=callback_url,
        )
        total = int(source.seconds) + extra
        plan = self._derived_plan(source, [segment], total, caps)
        if generated != extra:  # rounded up to an extension length: the whole is trimmed back
            plan.extras["trim_seconds"] = total
        plan.adapted += [*noted, *seconds_notes]
        job = self._new_job(tenant, req, plan, "extend", route)
        return await self.admit(Admission(tenant, req, plan, job, caps))

    async def edit(
        self, tenant: Tenant, video: str | Reference, prompt: str, *, callback_url: str | None = None
    ) -> Created:
        """Edit a gateway video (its id, or an uploaded copy of it) or an uploaded video file; the new video's
        end is announced at ``callback_url`` (as a create's)."""
        caps = self.upstream.caps
        noted: list[str] = []
        if isinstance(video, Reference):
            self._require(caps, "edits", "video")
            known = await self._uploaded_copy(tenant, video)
            if known is None:
                return await self._from_upload(tenant, video, prompt, "edit", 0, None, callback_url)
            video = known.id
            noted = [f"video=file->{known.id}"]
        source = await self._source(tenant, video, "edits", "video")
        route = self.upstream.pick(source)
        caps = route.caps
        if len(source.segments) > 1 and source.segments[-1].kind != "extend":
            raise invalid("This video was stitched by the gateway and cannot be edited upstream.", "video")
        # the upstream edits its whole video: a trimmed one (10 s made at 12) is edited, and charged, at 12
        whole = upstream_seconds(source)
        segment = Segment(
            index=0, seconds=whole, prompt=prompt, kind="edit", source_upstream_id=source.segments[-1].upstream_id
        )
        req = VideoRequest(
            prompt=prompt,
            edit_of=source.id,
            model=source.model,
            size=source.size,
            seconds=source.seconds,
            callback_url=callback_url,
        )
        plan = self._derived_plan(source, [segment], int(source.seconds), caps)
        plan.adapted += noted
        if whole != int(source.seconds):
            plan.adapted.append(f"edit->{whole}(whole upstream video,trimmed to {source.seconds})")
        return await self.admit(Admission(tenant, req, plan, self._new_job(tenant, req, plan, "edit", route), caps))

    @classmethod
    def _extension_length(cls, seconds: str | None, caps: Capabilities) -> tuple[int, int, list[str]]:
        """(seconds asked, seconds generated, adaptations): translated like a create's ``seconds``.

        A length the upstream extends by is used as is; a shorter odd one is rounded up to the next
        extension length and the video trimmed back (``seconds=10->12(trimmed to 10)``); longer: a 400.
        """
        lengths = caps.extension_seconds
        try:
            extra = parse_seconds(seconds, 0, max(lengths, default=0), "seconds")
        except ApiError:
            raise cls._bad_extension(seconds, caps) from None
        if extra < 1:  # missing
            raise cls._bad_extension(seconds, caps)
        if extra in lengths:
            return extra, extra, []
        generated = round_up(extra, lengths)
        if generated is None:
            raise cls._bad_extension(seconds, caps)
        return extra, generated, [f"seconds={extra}->{generated}(trimmed to {extra})"]

    @staticmethod
    def _bad_extension(seconds: str | None, caps: Capabilities) -> ApiError:
        allowed = ", ".join(str(s) for s in caps.extension_seconds)
        return invalid(
            f"Invalid 'seconds': {seconds!r}; supported extension lengths: {allowed} "
            "(a shorter length is rounded up and trimmed).",
            "seconds",
        )

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
        for job_id in await self.media.jobs_with_video(upload.sha256):
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

    async def _from_upload(
        self,
        tenant: Tenant,
        upload: Reference,
        prompt: str,
        kind: str,
        extra: int,
        generated: int | None = None,
        callback_url: str | None = None,
    ) -> Created:
        """Extend or edit a video file the upstream never made: the file goes upstream as ``video``."""
        from gateway.core.translate import nearest_size
        from gateway.media.probe import probe_video

        route = self.upstream.pick()
        caps = route.caps
        try:
            info = await asyncio.to_thread(probe_video, str(upload.path))
            length = max(1, round(float(info["duration"])))
            width, height = int(info["width"]), int(info["height"])
        except Exception:
            raise invalid("Invalid 'video': the file is not a readable video.", "video", "invalid_value") from None
        model = caps.default_model  # what the upstream uses for a file it did not make
        if not allows(caps, tenant.models, model):
            model = next((m for m in tenant.models or () if caps.base_model(m)), model)
            if not allows(caps, tenant.models, model):
                raise invalid("No model this team may use can extend or edit a video.", "model", "model_not_allowed")
        upstream_model = caps.base_model(model) or model
        size = nearest_size(width, height, caps.models.get(upstream_model, (caps.default_size,)))
        generated = (generated or extra) if kind == "extend" else length
        segment = Segment(index=0, seconds=generated, prompt=prompt, kind=kind)
        seconds = str(extra if kind == "extend" else length)
        req = VideoRequest(prompt=prompt, model=model, size=size, seconds=seconds, callback_url=callback_url)
        extras: dict[str, Any] = {"source_file": asdict(upload)}  # sent upstream as the file; part of the cache key
        adapted: list[str] = []
        if kind == "extend" and generated != extra:
            extras["trim_seconds"] = length + extra
            adapted.append(f"seconds={extra}->{generated}(trimmed to {extra})")
        plan = Plan(
            model=model,
            upstream_model=upstream_model,
            size=size,
            seconds=length + extra,
            segments=[segment],
            price_per_second=caps.price_per_second(upstream_model, size),
            adapted=adapted,
            extras=extras,
        )
        return await self.admit(Admission(tenant, req, plan, self._new_job(tenant, req, plan, kind, route), caps))
