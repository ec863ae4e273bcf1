"""The simulated Luma Dream Machine API, profile ``luma-dream-machine``, under ``/dream-machine/v1``
(``https://api.lumalabs.ai/dream-machine/v1``).

Auth: ``Authorization: Bearer <key>``; a missing or unknown key is 401 ``{"detail": "Invalid API key is
provided"}`` (the OpenAPI spec's own example). Every refusal is ``{"detail": "<text>"}`` (its ``Error`` schema);
an unknown route 404 ``{"detail": "Not Found"}``. States: queued, dreaming, completed, failed
(:mod:`.sim_generations`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.luma_dream_machine.sim_generations import BASE, ROUTES, state_word
from gateway.providers.luma_dream_machine.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer
from gateway.simulator.profile import one_per_version

OPS = ("dm_create", "dm_get", "dm_list", "dm_delete", "dm_cdn")


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key or not config.accepts(key):
        raise SimError(401, "Invalid API key is provided")
    return key


def error_response(error: SimError) -> Response:
    text, headers = error.message, {}
    if error.status == 429:
        concurrent = error.code == "concurrency_limit_exceeded"
        text = "Too many concurrent generations" if concurrent else "Too many requests"
        headers["Retry-After"] = dict(error.headers or {}).get("Retry-After", "1")
    elif error.type == "server_error":
        text = "Internal Server Error"
    elif error.status == 405:
        text = "Method Not Allowed"
    return JSONResponse({"detail": text}, status_code=error.status, headers=headers)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, "Not Found")


SIM_PROFILES = one_per_version(
    PROFILES, "luma_dream_machine", BASE, ROUTES, OPS, auth, state_word, error_response, unknown_route
)
