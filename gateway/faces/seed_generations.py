"""The seed guide's dialect: ``POST /v1/video/generations`` and ``GET /v1/video/generations/{id}``.

Older client code sends ``prompt, duration_seconds, resolution ("480p"/"720p"/"1080p" or WxH),
output_format ("mp4"/"webm"), style_preset, negative_prompt`` and reads
``{"id", "created", "status", "data": [{"url", "metadata": {"duration_ms", "resolution", "format"}}]}``.
Underneath it is the same pipeline and the same job as ``/v1/videos``: ``data[0].url`` is the
gateway's own download URL (``/v1/videos/{id}/content``, same bearer key), present once completed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import Settings, public_base_url
from gateway.core.models import Job, Status
from gateway.faces.creates import create_like
from gateway.faces.http import SafeJSONResponse as JSONResponse
from gateway.faces.http import tenant_of
from gateway.faces.openai_videos import video_resource
from gateway.faces.requests import CREATE, SEED
from gateway.faces.resources import created_headers, poll_headers, service
from gateway.policies.model import Tenant

FIELDS = SEED.fields(CREATE)


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


def resource_in_dialect(settings: Settings) -> Callable[[Job], dict[str, Any]]:
    """A video as its client reads it (a webhook's ``data``): the seed shape for a video created in the seed
    dialect, else the ``/v1/videos`` object."""
    base_url = public_base_url(settings)

    def render(job: Job) -> dict[str, Any]:
        return generation_resource(job, base_url) if job.requested.get("dialect") == SEED.name else video_resource(job)

    return render


def _base_url(request: Request) -> str:
    """Where clients reach the gateway: the ``public_base_url`` setting, never the request's ``Host``."""
    return public_base_url(request.app.state.ctx.settings)


async def create_generation(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        req = SEED.request(data)
        created = await service(request).create(tenant, req, cache_control=request.headers.get("cache-control"))
        return JSONResponse(generation_resource(created.job, _base_url(request)), headers=created_headers(created))

    async def resume(tenant: Tenant, made: dict[str, Any]) -> Response:  # the same key after its first died
        job = await service(request).retrieve(tenant, str(made["jobs"][0]))
        return JSONResponse(generation_resource(job, _base_url(request)), headers=poll_headers(job))

    return await create_like(request, answer, fields=FIELDS, required=("prompt",), resume=resume)


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
