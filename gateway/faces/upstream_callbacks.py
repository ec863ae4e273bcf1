"""``POST /v1/gateway/upstream-callbacks/{video_id}/{segment}/{token}``: where providers call the gateway back.

A create sent to a provider that calls back names this URL (:mod:`gateway.jobs.callbacks`) when
``public_base_url`` is set. No API key: the per-job ``token`` in the path is the credential. Anything that does
not name a job, a segment and that job's token is answered as an unknown URL (404, nothing changed); every
arrival is counted in ``sora_gateway_upstream_callbacks_total{result}``. A provider's handshake (MiniMax's
``challenge``) is answered with its echo; any other accepted callback with ``{}`` (200), and only a hint:
the job driver confirms an end with one status call before anything changes; a task still queued or running
moves the video forward at once (queued -> in_progress, the provider's progress), with no status call.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ApiError
from gateway.faces.http import SafeJSONResponse as JSONResponse
from gateway.observability import UPSTREAM_CALLBACKS, log


def _body(raw: bytes) -> Any:
    """The callback's JSON, or ``None`` (a body that is not JSON is still a hint: a status call tells)."""
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


async def upstream_callback(request: Request) -> Response:
    params = request.path_params
    video_id, segment, token = params["video_id"], params["segment"], params["token"]
    body = _body(await request.body())
    result, reply = await request.app.state.ctx.driver.callbacks.receive(video_id, segment, token, body)
    UPSTREAM_CALLBACKS.labels(result).inc()
    if result == "refused":
        log.warning("upstream_callback_refused", video_id=video_id[:64])
        raise ApiError(404, "Unknown request URL: POST /v1/gateway/upstream-callbacks/….", code="not_found")
    log.info("upstream_callback", video_id=video_id, segment=segment, result=result)
    return JSONResponse(reply if reply is not None else {})


routes = [
    Route("/v1/gateway/upstream-callbacks/{video_id}/{segment}/{token}", upstream_callback, methods=["POST"]),
]
