"""The seed guide's dialect: ``POST /v1/video/generations`` and ``GET /v1/video/generations/{id}``.

Older client code sends ``prompt, duration_seconds, resolution ("480p"/"720p"/"1080p" or WxH),
output_format ("mp4"/"webm"), style_preset, negative_prompt`` and reads
``{"id", "created", "status", "data": [{"url", "metadata": {"duration_ms", "resolution", "format"}}]}``.
Underneath it is the same pipeline and the same job as ``/v1/videos``: ``data[0].url`` is the
gateway's own download URL (``/v1/videos/{id}/content``, same bearer key), present once completed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import public_base_url
from gateway.core.models import Job, Status, VideoRequest
from gateway.errors import invalid
from gateway.faces.creates import create_like
from gateway.faces.http import SafeJSONResponse as JSONResponse
from gateway.faces.http import as_flag, as_str, tenant_of
from gateway.faces.resources import poll_headers, service
from gateway.policies.model import Tenant

FIELDS: dict[str, tuple[type, ...]] = {
    "prompt": (str,),
    "model": (str,),
    "duration_seconds": (int, float, str),
    "resolution": (str,),
    "output_format": (str,),
    "style_preset": (str,),
    "negative_prompt": (str,),
    "enhance_prompt": (bool, str),
    "callback_url": (str,),
}


def generation_resource(job: Job, base_url: str) -> dict[str, Any]:
    fmt = str(job.requested.get("output_format") or "mp4")
    data = []
    if job.status == Status.COMPLETED:
        metadata = {"duration_ms": int(job.seconds) * 1000, "resolution": job.size, "format": fmt}
        data.append({"url": f"{base_url}/v1/videos/{job.id}/content", "metadata": metadata})
    return {
        "id": job.id,
        "object": "video.generation",
        "created": job.created_at,
        "status": str(job.status),
        "progress": job.progress,
        "model": job.model,
        "prompt": job.prompt,
        "data": data,
        "error": job.error,
        "adapted": job.adapted,
        **({"enhanced_prompt": job.requested["enhanced_prompt"]} if job.requested.get("enhanced_prompt") else {}),
    }


def _base_url(request: Request) -> str:
    """Where clients reach the gateway: the ``public_base_url`` setting, never the request's ``Host``."""
    return public_base_url(request.app.state.ctx.settings)


async def create_generation(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        duration = data.get("duration_seconds")
        if isinstance(duration, bool):
            raise invalid("Invalid type for 'duration_seconds': expected a number.", "duration_seconds", "invalid_type")
        req = VideoRequest(
            prompt=data["prompt"],
            model=as_str(data.get("model")),
            seconds=None if duration is None else str(duration),
            size=as_str(data.get("resolution")),
            style_preset=as_str(data.get("style_preset")),
            negative_prompt=as_str(data.get("negative_prompt")),
            output_format=as_str(data.get("output_format")),
            enhance_prompt=as_flag(data.get("enhance_prompt"), "enhance_prompt"),
            callback_url=as_str(data.get("callback_url")),
            dialect="seed",
        )
        created = await service(request).create(tenant, req, cache_control=request.headers.get("cache-control"))
        headers = {**poll_headers(created.job), **created.headers}
        if created.job.cache:
            headers.setdefault("x-sora-gateway-cache", created.job.cache)
        return JSONResponse(generation_resource(created.job, _base_url(request)), headers=headers)

    return await create_like(request, answer, fields=FIELDS, required=("prompt",))


async def retrieve_generation(request: Request) -> Response:
    job = await service(request).retrieve(tenant_of(request), request.path_params["generation_id"])
    headers = poll_headers(job)
    if job.adapted:
        headers["x-sora-gateway-adapted"] = "; ".join(job.adapted)
    return JSONResponse(generation_resource(job, _base_url(request)), headers=headers)


routes = [
    Route("/v1/video/generations", create_generation, methods=["POST"]),
    Route("/v1/video/generations/{generation_id}", retrieve_generation, methods=["GET"]),
]
