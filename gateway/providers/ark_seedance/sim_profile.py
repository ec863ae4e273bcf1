"""The simulated BytePlus ModelArk (Seedance video tasks), profile ``ark-seedance``, under ``/api/v3``.

Auth the Ark way: ``Authorization: Bearer <ARK_API_KEY>``; a missing or unknown key is 401 ``AuthenticationError``
("The API key or AK/SK in the request is missing or invalid.", as captured from the live API). Every refusal is
Ark's ``{"error": {"code", "message", "param", "type"}}`` with the real HTTP status and the message ending in
"Request id: ..."; the engine's own refusals get Ark's codes: ``--rpm`` -> 429
``ModelAccountRpmRateLimitExceeded``, the ``429`` fault -> 429 ``ServerOverloaded``, 5xx faults ->
``InternalServiceError``, an unparsable body -> 400 ``InvalidParameter``. No ``Retry-After`` is sent (none is
documented). Statuses (for /_sim/stats): Ark's words, queued, running, succeeded, failed, cancelled.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.ark_seedance.sim_tasks import ROUTES, request_id, task_status
from gateway.providers.ark_seedance.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer
from gateway.simulator.profile import one_per_version

OPS = ("ark_create", "ark_get", "ark_list", "ark_delete", "ark_cdn", "ark_cdn_with_auth")
TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}
BAD_KEY = "The API key or AK/SK in the request is missing or invalid."
RPM = "The request has exceeded the RPM limit of the model for your account. Please try again later."
OVERLOADED = "The service is currently unable to handle additional requests due to server overload."
# the engine's codes -> (Ark code, Ark's message; None: keep the engine's)
ENGINE_CODES: dict[str, tuple[str, str | None]] = {
    "server_error": ("InternalServiceError", "The service encountered an unexpected internal error."),
    "service_unavailable": ("InternalServiceError", "The service is temporarily unavailable."),
    "invalid_json": ("InvalidParameter", "The request body is not valid JSON."),
    "concurrency_limit_exceeded": ("QuotaExceeded", None),
    "method_not_allowed": ("NotFound", None),
    "not_found": ("ResourceNotFound", None),
}


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key or not config.accepts(key):
        raise SimError(401, BAD_KEY, code="AuthenticationError", type="Unauthorized")
    return key


def _ark_code(error: SimError) -> tuple[str, str]:
    code, message = error.code or "", error.message
    if code == "rate_limit_exceeded":
        return (
            ("ModelAccountRpmRateLimitExceeded", RPM) if "per minute" in message else ("ServerOverloaded", OVERLOADED)
        )
    if code in ENGINE_CODES:
        ark, text = ENGINE_CODES[code]
        return ark, text or message
    if code and code[0].isupper():  # already Ark's
        return code, message
    if error.status == 404:
        return "NotFound", message
    return ("InternalServiceError" if error.status >= 500 else "InvalidParameter"), message


def error_response(error: SimError) -> Response:
    code, message = _ark_code(error)
    status = error.status
    kind = error.type if error.type and error.type[0].isupper() else TYPES.get(status, "InternalServerError")
    body = {
        "error": {
            "code": code,
            "message": f"{message.rstrip()} Request id: {request_id()}",
            "param": error.param or "",
            "type": kind,
        }
    }
    keep = {k: v for k, v in error.headers.items() if k.lower() == "allow"}
    return JSONResponse(body, status_code=status, headers=keep)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, f"The requested resource {method} {path} was not found.", code="NotFound", type="NotFound")


SIM_PROFILES = one_per_version(
    PROFILES, "ark_seedance", "/api/v3", ROUTES, OPS, auth, task_status, error_response, unknown_route
)
