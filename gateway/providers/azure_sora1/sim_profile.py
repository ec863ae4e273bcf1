"""The simulated Azure OpenAI Sora 1 resource: its jobs API under ``/openai/v1``.

The key is an ``api-key`` header (or a bearer token), and every call names a supported
``api-version``; statuses are Azure's (preprocessing, queued, running, processing, succeeded,
failed); refusals are ``{"error": {...}}`` like OpenAI's.
"""

from __future__ import annotations

from starlette.requests import Request

from gateway.providers.azure_sora1.sim_jobs import ROUTES, job_status
from gateway.providers.azure_sora1.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.guard import bearer, no_key, wrong_key
from gateway.simulator.profile import one_per_version

API_VERSIONS = frozenset({"preview", "v1"})
OPS = ("azure_create", "azure_retrieve", "azure_list", "azure_delete", "azure_content", "azure_models")


def check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if version is None:
        raise SimError(
            400, "Missing required query parameter 'api-version'.", param="api-version", code="missing_api_version"
        )
    if version not in API_VERSIONS and not version.endswith("-preview"):
        raise SimError(
            400, f"API version '{version}' is not supported.", param="api-version", code="unsupported_api_version"
        )


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request) or request.headers.get("api-key", "").strip()
    if not key:
        raise no_key("an 'api-key' header or ")
    if not config.accepts(key):
        raise wrong_key(key)
    check_api_version(request)
    return key


SIM_PROFILES = one_per_version(PROFILES, "azure_sora1", "/openai/v1", ROUTES, OPS, auth, status=job_status)
