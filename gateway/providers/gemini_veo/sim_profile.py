"""The simulated Gemini API (Veo), profile ``gemini-veo``, under ``/v1beta``.

The key is the ``x-goog-api-key`` header (or ``?key=``, as the API also takes it); none is a 403
``PERMISSION_DENIED`` ("Method doesn't allow unregistered callers..."), a wrong one a 400
``INVALID_ARGUMENT`` with the ``ErrorInfo`` reason ``API_KEY_INVALID`` (both as captured from the live
API). Every refusal is Google's ``{"error": {"code", "message", "status", "details"?}}``; a 429
(``--rpm``, ``--max-concurrent``, the ``429`` fault) is ``RESOURCE_EXHAUSTED`` with Google's quota text
and a ``RetryInfo.retryDelay`` detail instead of a ``Retry-After`` header. Statuses (for /_sim/stats):
``running`` until ``done``, then ``succeeded``, ``filtered`` (the safety filter) or ``failed``.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.gemini_veo.sim_ops import FILTERED, ROUTES
from gateway.providers.gemini_veo.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.jobs import DONE, FAILED, Job
from gateway.simulator.profile import one_per_version

OPS = ("veo_create", "veo_retrieve", "veo_content", "veo_storage", "veo_storage_key_sent", "veo_models")
WORDS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or "
    "other form of API consumer identity to call this API."
)
BAD_KEY = "API key not valid. Please pass a valid API key."
QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
SERVER = {500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
          503: "The model is overloaded. Please try again later."}  # fmt: skip
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def auth(request: Request, config: SimulatorConfig) -> str:
    key = request.headers.get("x-goog-api-key", "").strip() or request.query_params.get("key", "").strip()
    if not key:
        raise SimError(403, NO_KEY)
    if not config.accepts(key):
        raise SimError(400, BAD_KEY, code="API_KEY_INVALID")
    return key


def _details(error: SimError) -> list[dict[str, Any]]:
    if error.code == "API_KEY_INVALID":
        return [
            {
                "@type": ERROR_INFO,
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": error.message},
        ]
    if error.status == 429:
        wait = error.headers.get("Retry-After", "1")
        delay = max(1, math.ceil(float(wait))) if wait.replace(".", "", 1).isdigit() else 1
        violation = {"quotaMetric": "generativelanguage.googleapis.com/predict_long_running_requests"}
        return [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"},
        ]
    return []


def error_response(error: SimError) -> Response:
    """Google's error envelope; the engine's own refusals (limits, faults) get Google's texts."""
    status = error.status
    message = (
        QUOTA if status == 429 else SERVER.get(status, error.message) if error.type == "server_error" else error.message
    )
    body: dict[str, Any] = {"code": status, "message": message, "status": WORDS.get(status, "UNKNOWN")}
    details = _details(error)
    if details:
        body["details"] = details
    headers = {
        k: v
        for k, v in error.headers.items()
        if k.lower() not in ("retry-after",) and not k.lower().startswith("x-ratelimit")
    }
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def unknown_route(method: str, path: str) -> SimError:
    return SimError(404, f"The requested URL {path} was not found on this server.", code="NOT_FOUND")


def status(job: Job, now: float) -> str:
    phase = job.phase(now)
    if phase == DONE:
        return "succeeded"
    if phase == FAILED:
        return "filtered" if job.failure and job.failure[0] == FILTERED else "failed"
    return "running"


SIM_PROFILES = one_per_version(
    PROFILES, "gemini_veo", "/v1beta", ROUTES, OPS, auth, status, error_response, unknown_route
)
