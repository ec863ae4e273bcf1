"""The simulated DashScope API (profile ``dashscope-wan``), served at the root like ``dashscope-intl.aliyuncs.com``.

Auth the DashScope way: ``Authorization: Bearer <key>`` on every call (none: 401 ``InvalidApiKey`` "No API-key
provided."; an unknown key: 401 ``InvalidApiKey`` "Invalid API-key provided."), and a create also needs
``X-DashScope-Async: enable`` (else 403 ``AccessDenied`` "current user api does not support synchronous calls").
Every refusal is ``{"request_id", "code", "message"}`` with a real HTTP status; the engine's own refusals get
DashScope's codes (rate limit -> 429 ``Throttling.RateQuota``, 5xx faults -> 500 ``InternalError`` / 503
``ServiceUnavailable``, an unknown route -> 404 ``NotFound``, a bad body -> 400 ``InvalidParameter``). Task
statuses are DashScope's words (:mod:`.sim_tasks`).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.dashscope_wan.sim_tasks import CREATE_PATH, ROUTES, task_status
from gateway.providers.dashscope_wan.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer
from gateway.simulator.profile import one_per_version

OPS = ("wan_create", "wan_create_i2v", "wan_task", "wan_list", "wan_cancel", "wan_oss", "wan_oss_with_auth")
# the engine's error codes -> (DashScope code, DashScope's message for it; None: the engine's message)
ENGINE_CODES: dict[str, tuple[str, str | None]] = {
    "rate_limit_exceeded": ("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    "server_error": (
        "InternalError",
        "An internal error has occured, please try again later or contact service support.",
    ),
    "service_unavailable": ("ServiceUnavailable", "The service is temporarily unavailable, please try again later."),
    "invalid_json": ("InvalidParameter", None),
    "method_not_allowed": ("InvalidParameter", None),
    "not_found": ("NotFound", None),
}
BY_STATUS = {400: "InvalidParameter", 401: "InvalidApiKey", 403: "AccessDenied", 404: "NotFound", 429: "Throttling"}


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key:
        raise SimError(401, "No API-key provided.", code="InvalidApiKey")
    if not config.accepts(key):
        raise SimError(401, "Invalid API-key provided.", code="InvalidApiKey")
    if request.method == "POST" and request.url.path == CREATE_PATH:
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            raise SimError(403, "current user api does not support synchronous calls", code="AccessDenied")
    return key


def error_response(error: SimError) -> Response:
    """DashScope's flat envelope; a DashScope code given by the profile is kept, the engine's translated."""
    code, message = error.code or "", error.message
    if code in ENGINE_CODES:
        code, message = ENGINE_CODES[code][0], ENGINE_CODES[code][1] or message
    elif not code[:1].isupper():  # an engine refusal without a DashScope code
        code = BY_STATUS.get(error.status, "InternalError" if error.status >= 500 else "InvalidParameter")
    body = {"request_id": str(uuid.uuid4()), "code": code, "message": message}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, f"The requested URL was not found ({method} {path}).", code="NotFound")


SIM_PROFILES = one_per_version(
    PROFILES, "dashscope_wan", "", ROUTES, OPS, auth, task_status, error_response, unknown_route
)
