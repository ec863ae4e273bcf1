"""The simulated Kling AI classic API (profile ``kling``), served at the root like ``api-singapore.klingai.com``.

Auth is Kling's JWT (:mod:`.sim_auth`); statuses are Kling's words (submitted, processing, succeed, failed);
every refusal is Kling's envelope ``{"code", "message", "request_id"}`` with Kling's HTTP status: the engine's
own refusals are given Kling's codes (rate limit ``--rpm`` and the ``429`` fault -> 429/1302, ``--max-concurrent``
-> 429/1303 "parallel task over resource pack limit", 5xx faults -> 500/5000 or 503/5001, an unknown route ->
404/1202, a bad body -> 400/1200). Kling sends no ``Retry-After``.
"""

from __future__ import annotations

import uuid

from starlette.responses import JSONResponse, Response

from gateway.providers.kling.sim_auth import auth
from gateway.providers.kling.sim_tasks import ROUTES, job_status
from gateway.providers.kling.table import PROFILES
from gateway.simulator.errors import SimError
from gateway.simulator.profile import one_per_version

OPS = ("kling_text2video", "kling_image2video", "kling_query", "kling_list", "kling_cdn", "kling_cdn_with_auth")
# the engine's error codes -> (Kling code, Kling's message for it)
ENGINE_CODES: dict[str, tuple[int, str | None]] = {
    "rate_limit_exceeded": (1302, "API requests too fast, please slow down"),
    "concurrency_limit_exceeded": (1303, "parallel task over resource pack limit"),
    "server_error": (5000, "Server internal error"),
    "service_unavailable": (5001, "Service temporarily unavailable"),
    "invalid_json": (1200, None),
    "invalid_value": (1201, None),
    "method_not_allowed": (1202, "The requested method is invalid"),
    "not_found": (1203, None),
}
BY_STATUS = {400: 1200, 401: 1000, 403: 1103, 404: 1202, 429: 1302, 503: 5001, 504: 5002}


def error_response(error: SimError) -> Response:
    """Kling's envelope; a Kling code given by the profile is kept, the engine's are translated."""
    message: str | None = error.message
    if error.code and error.code.isdigit():
        code = int(error.code)
    elif error.code in ENGINE_CODES:
        code, message = ENGINE_CODES[error.code][0], ENGINE_CODES[error.code][1] or error.message
    else:
        code = BY_STATUS.get(error.status, 5000 if error.status >= 500 else 1200)
    body = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=error.status)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, f"The requested method is invalid ({method} {path})", code="1202")


SIM_PROFILES = one_per_version(PROFILES, "kling", "", ROUTES, OPS, auth, job_status, error_response, unknown_route)
