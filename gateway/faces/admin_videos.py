"""``GET /v1/gateway/admin/videos`` (every team's recent videos) and their content, for the admin key.

What the console shows an operator signed in with the admin key. Video objects are the same as
``/v1/videos`` renders them, plus ``tenant``. The store lists per team, so this walks the teams of
the policy files (and ``anonymous``) and merges their newest videos.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import invalid, not_found
from gateway.faces.openai_videos import serve_content, video_resource
from gateway.faces.resources import service
from gateway.faces.usage import require_admin
from gateway.policies.model import ANONYMOUS, Tenant


def _tenants(request: Request) -> dict[str, Tenant]:
    tenants = dict(request.app.state.ctx.policies.current().tenants)
    tenants.setdefault(ANONYMOUS.name, ANONYMOUS)
    return tenants


async def admin_videos(request: Request) -> Response:
    require_admin(request)
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= 100:
        raise invalid("Invalid 'limit': expected an integer between 1 and 100.", "limit")
    tenants = _tenants(request)
    wanted = request.query_params.get("tenant")
    if wanted is not None and wanted not in tenants:
        raise not_found("tenant", wanted, "tenant")
    names = [wanted] if wanted else sorted(tenants)
    found: list[dict[str, Any]] = []
    for name in names:
        jobs, _ = await service(request).list(tenants[name], after=None, limit=limit, order="desc")
        found += [{**video_resource(job), "tenant": job.tenant} for job in jobs]
    found.sort(key=lambda v: (v["created_at"], v["id"]), reverse=True)
    return JSONResponse({"object": "list", "data": found[:limit]})


async def admin_content(request: Request) -> Response:
    """The content of any team's video: served as that team's own download (same headers, Range)."""
    require_admin(request)
    job = await request.app.state.ctx.store.get(request.path_params["video_id"])
    tenants = _tenants(request)
    if job is None or job.tenant not in tenants:
        raise not_found("video", request.path_params["video_id"], None)
    return await serve_content(request, tenants[job.tenant])


routes = [
    Route("/v1/gateway/admin/videos", admin_videos, methods=["GET"]),
    Route("/v1/gateway/admin/videos/{video_id}/content", admin_content, methods=["GET"]),
]
