"""Serving a finished video's files: the kept copy, or the upstream's while it still has one.

A mixin of :class:`~gateway.pipeline.service.VideoService`: ``content`` answers ``GET
/v1/videos/{id}/content`` with a kept file (Range, presigned redirect), a cache hit's or coalesced
create's file (kept under the job whose upstream video it is), or a stream from the upstream.
"""

from __future__ import annotations

from gateway.content import ContentRedirect, ContentStore, ContentStoreError, Stored, StoredFile
from gateway.content.local import RangeProblem
from gateway.content.ranges import RangeNotSatisfiable
from gateway.core.models import Job, Status
from gateway.errors import ApiError, invalid
from gateway.observability import log
from gateway.pipeline.creates import upstream_refusal
from gateway.pipeline.derived import INHERITED
from gateway.policies.model import Tenant
from gateway.upstreams.base import ContentStream, UpstreamError
from gateway.upstreams.routing import UpstreamRouter
from gateway.upstreams.runtime import UpstreamRuntime

VARIANTS = ("video", "thumbnail", "spritesheet")


class Downloads:
    """Needs from the service: ``upstream``, ``media`` and ``get``."""

    upstream: UpstreamRouter | UpstreamRuntime
    media: ContentStore

    async def get(self, tenant: Tenant, video_id: str, param: str | None = None) -> Job:
        raise NotImplementedError

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
