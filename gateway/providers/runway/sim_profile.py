"""The simulated Runway developer API, profile ``runway``, served at the root (``https://api.dev.runwayml.com``).

Auth the Runway way: ``Authorization: Bearer <key>`` (a missing or unknown key: 401 ``{"error": "The
provided API key is not valid."}``, the docs' wording), then ``X-Runway-Version: 2024-11-06`` on every
call (missing or another: 400 ``{"error": "Invalid API Version"}``, as observed by third parties; the
docs only call the header required). Every refusal is Runway's ``{"error": "<text>"}`` (a validator 400
adds ``issues`` and ``docUrl``); an unknown path is 404 ``{"error": "Not found"}``. Task statuses are
Runway's: THROTTLED, PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED (:mod:`.sim_tasks`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.runway.sim_fields import DOC_URL, Invalid
from gateway.providers.runway.sim_tasks import ROUTES, task_status
from gateway.providers.runway.table import API_VERSION, PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer
from gateway.simulator.profile import one_per_version

OPS = (
    "runway_text_to_video",
    "runway_image_to_video",
    "runway_task",
    "runway_delete",
    "runway_organization",
    "runway_cdn",
)


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key or not config.accepts(key):
        raise SimError(401, "The provided API key is not valid.")
    if request.headers.get("x-runway-version") != API_VERSION:
        raise SimError(400, "Invalid API Version")
    return key


def error_response(error: SimError) -> Response:
    body: dict[str, object] = {"error": error.message}
    if isinstance(error, Invalid):
        body.update(issues=error.issues, docUrl=DOC_URL)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, "Not found")


SIM_PROFILES = one_per_version(PROFILES, "runway", "", ROUTES, OPS, auth, task_status, error_response, unknown_route)
