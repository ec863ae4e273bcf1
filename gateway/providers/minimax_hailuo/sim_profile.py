"""The simulated MiniMax API (profile ``minimax-hailuo``), served at the root like ``api.minimax.io``.

Auth the MiniMax way: ``Authorization: Bearer <key>`` on every API call; none is ``base_resp`` 1004 ("login fail:
Please carry the API secret key in the 'Authorization' field of the request header"), an unknown key 2049
("invalid api key"). MiniMax refuses with HTTP 200 and a non-zero ``base_resp.status_code`` (the profile's refusals
carry it as their code); the engine's own refusals get MiniMax's codes: ``--rpm`` and the ``429`` fault -> 1002
"rate limit exceeded(RPM)", an unparsable body -> 2013. Server faults stay HTTP 5xx (with ``base_resp`` 1000 /
1001), an unknown route is a plain 404. Task statuses are MiniMax's words (:mod:`.sim_tasks`). The v2 routes
(:mod:`.sim_v2`) refuse with their own envelope and real HTTP statuses (their errors carry a ``v2:`` code).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gateway.providers.minimax_hailuo.sim_tasks import ROUTES as V1_ROUTES
from gateway.providers.minimax_hailuo.sim_tasks import task_status
from gateway.providers.minimax_hailuo.sim_v2 import ROUTES as V2_ROUTES
from gateway.providers.minimax_hailuo.sim_v2 import request_id
from gateway.providers.minimax_hailuo.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer
from gateway.simulator.profile import one_per_version

ROUTES = [*V1_ROUTES, *V2_ROUTES]
OPS = (
    "mm_create",
    "mm_create_v2",
    "mm_create_i2v",
    "mm_query",
    "mm_file",
    "mm_files_list",
    "mm_cdn",
    "mm_cdn_with_auth",
)
NO_KEY = "login fail: Please carry the API secret key in the 'Authorization' field of the request header"
# the engine's error codes -> (MiniMax base_resp code, its message; None: the engine's message)
ENGINE_CODES: dict[str, tuple[int, str | None]] = {
    "rate_limit_exceeded": (1002, "rate limit exceeded(RPM)"),
    "concurrency_limit_exceeded": (1002, "rate limit exceeded(concurrency)"),
    "invalid_json": (2013, None),
    "server_error": (1000, "unknown error"),
    "service_unavailable": (1001, "request timeout"),
}


V2_TYPES = {400: "bad_request_error", 401: "authorized_error", 402: "insufficient_balance_error",
            422: "unprocessable_entity_error", 429: "rate_limit_error"}  # fmt: skip


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key:
        raise SimError(400, NO_KEY, code="1004")
    if not config.accepts(key):
        raise SimError(400, "invalid api key", code="2049")
    return key


def error_response(error: SimError) -> Response:
    """HTTP 200 with ``base_resp`` for MiniMax's refusals; server faults keep their 5xx; a 404/405 is plain."""
    raw = error.code or ""
    if raw.startswith("v2:"):  # the v2 surface's envelope: a real HTTP status
        kind = V2_TYPES.get(error.status, "server_error" if error.status >= 500 else "bad_request_error")
        inner = {"type": kind, "message": error.message, "http_code": str(error.status)}
        return JSONResponse({"type": "error", "error": inner, "request_id": request_id()}, status_code=error.status)
    if raw.isdigit():
        status_code, message, http = int(raw), error.message, 200
    elif raw in ENGINE_CODES:
        status_code, text = ENGINE_CODES[raw]
        message, http = text or error.message, error.status if error.status >= 500 else 200
    elif error.status in (404, 405):
        return PlainTextResponse(f"{error.status} {error.message}", status_code=error.status, headers=error.headers)
    else:
        status_code, message, http = (1000 if error.status >= 500 else 2013), error.message, error.status
        http = http if http >= 500 else 200
    body = {"base_resp": {"status_code": status_code, "status_msg": message}}
    return JSONResponse(body, status_code=http)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, f"page not found ({method} {path})", code="not_found")


SIM_PROFILES = one_per_version(
    PROFILES, "minimax_hailuo", "", ROUTES, OPS, auth, task_status, error_response, unknown_route
)
