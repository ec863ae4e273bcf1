"""The simulated Luma Agents API, profile ``luma``, served under ``/v1`` (``https://agents.lumalabs.ai/v1``).

Auth the Luma way: ``Authorization: Bearer <key>``; a missing or unknown key is 401 ``{"detail": "Invalid API
key is provided"}`` (the wording of Luma's Dream Machine spec; the Agents docs name only the status). Every
refusal is ``{"detail": "<text>"}`` with the documented status: 400 bad parameters, 422 a refused combination or
bad media, 404 an unknown generation, 429 over the RPM (``--rpm``, the ``429`` fault: "Rate limit exceeded") or
the concurrency (``--max-concurrent``) with ``Retry-After``, 5xx faults as Luma's 502 / 503. Every answer carries
``X-API-Version: 2026-04-01`` (and the engine's ``x-request-id``). States: queued, processing, completed, failed
(:mod:`.sim_generations`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.luma.sim_generations import API_VERSION, ROUTES, generation_state
from gateway.providers.luma.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer
from gateway.simulator.profile import one_per_version

OPS = ("luma_create", "luma_create_anchored", "luma_get", "luma_cdn")
SERVER = {500: (502, "Upstream service unavailable"), 503: (503, "Service unavailable")}


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key or not config.accepts(key):
        raise SimError(401, "Invalid API key is provided")
    return key


def error_response(error: SimError) -> Response:
    status, text = error.status, error.message
    headers = {"X-API-Version": API_VERSION}
    if status == 429:
        concurrent = error.code == "concurrency_limit_exceeded"
        text = "Too many concurrent generations" if concurrent else "Rate limit exceeded"
        headers["Retry-After"] = dict(error.headers or {}).get("Retry-After", "1")
    elif error.type == "server_error" and status in SERVER:
        status, text = SERVER[status]
    elif status == 405:
        text = "Method Not Allowed"
        headers.update({k: v for k, v in (error.headers or {}).items() if k.lower() == "allow"})
    return JSONResponse({"detail": text}, status_code=status, headers=headers)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, "Not Found")


SIM_PROFILES = one_per_version(
    PROFILES, "luma", "/v1", ROUTES, OPS, auth, generation_state, error_response, unknown_route
)
