"""The OpenAI Videos face: ``/v1/videos…`` exactly as the official spec, plus the gateway's extras."""

from __future__ import annotations

import json
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.content import ContentRedirect, StoredFile
from gateway.content.local import RangeProblem, check_range
from gateway.core.models import Job, Reference, Status
from gateway.errors import ApiError, invalid
from gateway.faces.creates import Resumer, create_like
from gateway.faces.http import SafeJSONResponse as JSONResponse
from gateway.faces.http import tenant_of
from gateway.faces.requests import CREATE, EDIT, EXTEND, OPENAI, REFERENCE, REMIX
from gateway.faces.resources import accel_redirect, cost_usd, created_headers, poll_headers, queue_position, service
from gateway.pipeline.stages import Created
from gateway.policies.model import Tenant
from gateway.store.base import id_position
from gateway.store.snapshots import Snapshot

CREATE_FIELDS = OPENAI.fields(CREATE)
REMIX_FIELDS = OPENAI.fields(REMIX)
# ``video``: {"id": ...} (JSON, a JSON string, or ``video[id]`` in a form) or an uploaded file (what the SDK sends)
DERIVED_FIELDS = {"video": REFERENCE, **OPENAI.fields(EXTEND)}
EDIT_FIELDS = {"video": REFERENCE, **OPENAI.fields(EDIT)}


class VideoFile(FileResponse):
    """A retained file, read 1 MiB at a time: each read is a hop to a worker thread, and Starlette's 64 KiB
    made an 8 MiB video 128 hops (a third of nginx's rate; 1 MiB: 85-98%, benchmarks/README.md)."""

    chunk_size = 1024 * 1024


def video_resource(job: Job, queue_position: int | None = None) -> dict[str, Any]:
    """The VideoResource of the spec, with the gateway's ``adapted`` list and ``cost_usd`` as extra fields (and, while
    queued, ``queue_position``: 1 = the next to go upstream; null when no upstream limit holds it back)."""
    resource = {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": str(job.status),
        "progress": job.progress,
        "created_at": job.created_at,
        "completed_at": job.completed_at,
        "expires_at": job.expires_at,
        "prompt": job.prompt,
        "size": job.size,
        "seconds": job.seconds,
        "remixed_from_video_id": job.remixed_from_video_id,
        "error": job.error,
        "adapted": job.adapted,
        "cost_usd": cost_usd(job),
        "provider": job.upstream,  # the upstream profile that made it (gemini-veo, kling, openai-2026-03, ...)
        "upstream_model": job.requested.get("upstream_model") or job.model,
        **gateway_extras(job),
    }
    if job.status == Status.QUEUED:
        resource["queue_position"] = queue_position
    return resource


def gateway_extras(job: Job) -> dict[str, Any]:
    """Fields only some videos have: what an extension extended, an enhanced prompt, a story's scenes."""
    extras: dict[str, Any] = {}
    if job.kind == "extend":  # the gateway video extended (None: an uploaded file the gateway did not make)
        extras["extended_from_video_id"] = job.requested.get("extend_of")
    if job.requested.get("enhanced_prompt"):
        extras["enhanced_prompt"] = job.requested["enhanced_prompt"]
    if job.requested.get("scene_ids"):
        extras["scenes"] = list(job.requested["scene_ids"])
    if job.requested.get("story_of"):
        extras["story_id"] = job.requested["story_of"]
    if job.requested.get("batch_id"):
        extras["batch_id"] = job.requested["batch_id"]
    return extras


def created_response(created: Created, request: Request | None = None) -> JSONResponse:
    resource = video_resource(created.job, queue_position(request, created.job))
    return JSONResponse(resource, headers=created_headers(created))


def resume_video(request: Request) -> Resumer:
    """An Idempotency-Key's retry after its first request died: the video that request stored, as it stands now."""

    async def resume(tenant: Tenant, made: dict[str, Any]) -> Response:
        job = await service(request).retrieve(tenant, str(made["jobs"][0]))
        return JSONResponse(video_resource(job, queue_position(request, job)), headers=poll_headers(job))

    return resume


async def create_video(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        req = OPENAI.request(data)
        created = await service(request).create(tenant, req, cache_control=request.headers.get("cache-control"))
        return created_response(created, request)

    return await create_like(request, answer, fields=CREATE_FIELDS, required=("prompt",), resume=resume_video(request))


async def list_videos(request: Request) -> Response:
    tenant = tenant_of(request)
    q = request.query_params
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise invalid("Invalid 'limit': expected an integer between 0 and 100.", "limit") from None
    if not 0 <= limit <= 100:
        raise invalid("Invalid 'limit': expected an integer between 0 and 100.", "limit")
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid("Invalid 'order': expected 'asc' or 'desc'.", "order")
    after = q.get("after")
    if after is not None and id_position(after) is None:
        # one behaviour for every cursor: a gateway id continues from where it sorts (even when that
        # video is gone); anything else is refused rather than answered with an empty page
        raise invalid(f"Invalid 'after': {after[:80]!r} is not a video id (video_...).", "after")
    jobs, has_more = await service(request).list(tenant, after=after, limit=limit, order=order)
    data = [video_resource(j, queue_position(request, j)) for j in jobs]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


def _video_bytes(job: Job) -> bytes:
    return JSONResponse(video_resource(job)).body  # the very bytes JSONResponse sends


async def retrieve_video(request: Request) -> Response:
    snap = await service(request).poll(tenant_of(request), request.path_params["video_id"])
    body = poll_body(snap, queue_position(request, snap.job))
    return Response(body, media_type="application/json", headers=poll_headers(snap.job))


def poll_body(snap: Snapshot, position: int | None) -> bytes:
    """A poll's VideoResource bytes (the route's and the fast path's, faces/fast_polls.py)."""
    if position is None:
        return snap.rendered("openai_videos", _video_bytes)  # rendered once per change of the job
    return JSONResponse(video_resource(snap.job, position)).body  # a queue moves without a write to this job


async def delete_video(request: Request) -> Response:
    job = await service(request).delete(tenant_of(request), request.path_params["video_id"])
    return JSONResponse({"id": job.id, "object": "video.deleted", "deleted": True})


async def video_content(request: Request) -> Response:
    return await serve_content(request, tenant_of(request))


async def serve_content(request: Request, tenant: Tenant) -> Response:
    """A video's content as ``tenant`` downloads it (the admin view serves any team's through this)."""
    variant = request.query_params.get("variant", "video")
    source = await service(request).content(
        tenant, request.path_params["video_id"], variant, request.headers.get("range")
    )
    if isinstance(source, ContentRedirect):  # s3:// with content_presign_s: the bucket serves the bytes
        return RedirectResponse(source.url, status_code=307)
    tags = [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]
    if isinstance(source, StoredFile):
        headers = {"x-content-sha256": source.sha256, "etag": f'"{source.sha256}"'} if source.sha256 else {}
        if headers and (headers["etag"] in tags or "*" in tags):
            return Response(status_code=304, headers=headers)
        try:
            check_range(request.headers.get("range"), source.size)
        except RangeProblem as exc:
            extra = {"content-range": f"bytes */{exc.size}"} if exc.status == 416 else {}
            raise ApiError(exc.status, exc.message, param="Range", code="invalid_range", headers=extra) from None
        accel = accel_redirect(request, source)
        if accel is not None:  # the proxy in front sends the bytes (sendfile, Range), after our checks
            return Response(media_type=source.media_type, headers={**headers, "x-accel-redirect": accel})
        return VideoFile(source.path, media_type=source.media_type, headers=headers)
    etag = source.headers.get("etag")
    if source.status == 200 and etag and (etag in tags or "*" in tags):  # streamed from the bucket or upstream
        await source.close()
        return Response(status_code=304, headers={k: v for k, v in source.headers.items() if k != "content-length"})
    return StreamingResponse(
        source.chunks, status_code=source.status, headers=source.headers, background=BackgroundTask(source.close)
    )


async def remix_video(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        video_id, prompt = request.path_params["video_id"], OPENAI.read(data, "prompt")
        created = await service(request).remix(tenant, video_id, prompt, callback_url=OPENAI.read(data, "callback_url"))
        return created_response(created, request)

    return await create_like(request, answer, fields=REMIX_FIELDS, required=("prompt",), resume=resume_video(request))


def _video_ref(data: dict[str, Any]) -> str | Reference:
    """The video to extend or edit: a gateway id, or an uploaded file (matched by the service)."""
    video = data.get("video")
    if isinstance(video, Reference):
        if not video.path:
            raise invalid('Invalid \'video\': expected a video file or an object {"id": "video_..."}.', "video")
        return video
    if isinstance(video, str) and video.startswith("{"):
        try:
            video = json.loads(video)
        except (ValueError, RecursionError):
            video = None
    if isinstance(video, dict) and isinstance(video.get("id"), str) and video["id"]:
        return str(video["id"])
    raise invalid(
        'Invalid \'video\': expected a video file or an object {"id": "video_..."} naming a completed video.', "video"
    )


async def extend_video(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        video, prompt, seconds = _video_ref(data), OPENAI.read(data, "prompt"), OPENAI.read(data, "seconds")
        callback_url = OPENAI.read(data, "callback_url")  # the extended video's end is announced there
        created = await service(request).extend(tenant, video, prompt, seconds, callback_url=callback_url)
        return created_response(created, request)

    return await create_like(
        request,
        answer,
        fields=DERIVED_FIELDS,
        required=("video", "prompt", "seconds"),
        resume=resume_video(request),
    )


async def edit_video(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        video, prompt = _video_ref(data), OPENAI.read(data, "prompt")
        created = await service(request).edit(tenant, video, prompt, callback_url=OPENAI.read(data, "callback_url"))
        return created_response(created, request)

    return await create_like(
        request, answer, fields=EDIT_FIELDS, required=("video", "prompt"), resume=resume_video(request)
    )


routes = [
    Route("/v1/videos", create_video, methods=["POST"]),
    Route("/v1/videos", list_videos, methods=["GET"]),
    Route("/v1/videos/extensions", extend_video, methods=["POST"]),
    Route("/v1/videos/edits", edit_video, methods=["POST"]),
    Route("/v1/videos/{video_id}", retrieve_video, methods=["GET"]),
    Route("/v1/videos/{video_id}", delete_video, methods=["DELETE"]),
    Route("/v1/videos/{video_id}/content", video_content, methods=["GET"]),
    Route("/v1/videos/{video_id}/remix", remix_video, methods=["POST"]),
]
