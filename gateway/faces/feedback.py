"""Feedback: ``POST /v1/videos/{id}/feedback`` and ``GET /v1/gateway/feedback/summary?group_by=...``.

A team rates its own videos (another team's id is a 404) and sees its own summary; the admin key
(``SORA_GATEWAY_ADMIN_KEY``) sees every team's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ApiError, invalid
from gateway.faces.bodies import parse_json
from gateway.faces.http import SafeJSONResponse as JSONResponse
from gateway.faces.http import tenant_of
from gateway.faces.resources import service
from gateway.faces.usage import require_admin
from gateway.pipeline.feedback import FeedbackService


def _feedback(request: Request) -> FeedbackService:
    return FeedbackService(request.app.state.ctx.store)


def _is_admin(request: Request) -> bool:
    if not request.app.state.ctx.settings.admin_key:
        return False
    try:
        require_admin(request)
    except ApiError:
        return False
    return True


async def post_feedback(request: Request) -> Response:
    tenant = tenant_of(request)
    body = parse_json(await request.body() or b"null")  # too deep, not UTF-8: a 400, never a 500
    if not isinstance(body, dict):
        raise invalid("The JSON body must be an object with 'rating', 'scores' and 'comment'.", None, "invalid_json")
    job = await service(request).get(tenant, request.path_params["video_id"], "video_id")
    return JSONResponse(await _feedback(request).record(job, body))


async def feedback_summary(request: Request) -> Response:
    group_by = request.query_params.get("group_by", "model")
    tenant = None if _is_admin(request) else tenant_of(request).name
    return JSONResponse(await _feedback(request).summary(group_by, tenant))


routes = [
    Route("/v1/videos/{video_id}/feedback", post_feedback, methods=["POST"]),
    Route("/v1/gateway/feedback/summary", feedback_summary, methods=["GET"]),
]
