"""``/v1/videos/characters``: the multipart face of :class:`gateway.pipeline.characters.CharacterService`."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import invalid
from gateway.faces.http import tenant_of
from gateway.pipeline.characters import CharacterService


def _characters(request: Request) -> CharacterService:
    ctx = request.app.state.ctx
    return CharacterService(ctx.store, ctx.upstream)


async def create_character(request: Request) -> Response:
    tenant = tenant_of(request)
    characters = _characters(request)
    characters.require_supported()
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=1024 * 1024)
    except (MultiPartException, HTTPException, UnicodeDecodeError):  # the body limit and timeouts propagate
        raise invalid("Could not parse the multipart body.", None, "invalid_body") from None
    video, name = form.get("video"), form.get("name")
    if video is None or isinstance(video, str):
        raise invalid("Missing required parameter: 'video' (a video file).", "video", "missing_required_parameter")
    if not isinstance(name, str) or not 1 <= len(name) <= 80:
        raise invalid("Invalid 'name': 1 to 80 characters.", "name")
    upload = (video.filename or "video.mp4", await video.read(), video.content_type or "video/mp4")
    status, body = await characters.create(tenant, name, upload)
    return JSONResponse(body, status_code=status)


async def get_character(request: Request) -> Response:
    status, body = await _characters(request).get(tenant_of(request), request.path_params["character_id"])
    return JSONResponse(body, status_code=status)


routes = [
    Route("/v1/videos/characters", create_character, methods=["POST"]),
    Route("/v1/videos/characters/{character_id}", get_character, methods=["GET"]),
]
