"""``/v1/videos/characters``: passed through to upstreams that have it, owned by the creating tenant."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import ApiError, invalid, not_found
from gateway.faces.http import tenant_of

OWNER_KEY = "character-owner:"


def _require(request: Request) -> None:
    caps = request.app.state.ctx.upstream.caps
    if not caps.has("characters"):
        raise ApiError(
            400,
            f"The upstream behind this gateway ({caps.profile}) does not support characters.",
            code="unsupported_by_upstream",
        )


async def create_character(request: Request) -> Response:
    tenant = tenant_of(request)
    _require(request)
    ctx = request.app.state.ctx
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=1024 * 1024)
    except Exception:
        raise invalid("Could not parse the multipart body.", None, "invalid_body") from None
    video, name = form.get("video"), form.get("name")
    if video is None or isinstance(video, str):
        raise invalid("Missing required parameter: 'video' (a video file).", "video", "missing_required_parameter")
    if not isinstance(name, str) or not 1 <= len(name) <= 80:
        raise invalid("Invalid 'name': 1 to 80 characters.", "name")
    payload = await video.read()
    files = {"video": (video.filename or "video.mp4", payload, video.content_type or "video/mp4")}
    status, body = await ctx.upstream.current().forward("POST", "/videos/characters", files=files, data={"name": name})
    if status == 200 and isinstance(body, dict) and body.get("id"):
        await ctx.store.kv_set(OWNER_KEY + str(body["id"]), tenant.name)
    return JSONResponse(body, status_code=status)


async def get_character(request: Request) -> Response:
    tenant = tenant_of(request)
    _require(request)
    ctx = request.app.state.ctx
    character_id = request.path_params["character_id"]
    if await ctx.store.kv_get(OWNER_KEY + character_id) != tenant.name:
        raise not_found("character", character_id)
    status, body = await ctx.upstream.current().forward("GET", f"/videos/characters/{character_id}")
    return JSONResponse(body, status_code=status)


routes = [
    Route("/v1/videos/characters", create_character, methods=["POST"]),
    Route("/v1/videos/characters/{character_id}", get_character, methods=["GET"]),
]
