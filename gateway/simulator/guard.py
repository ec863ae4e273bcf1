"""The steps every API request goes through before its handler does anything.

count the call → is the route offered by the current profile? → API key → (Azure) api-version → faults
(may delay, drop or refuse) → request-rate limit (create-like calls only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from gateway.simulator.errors import SimError, invalid_url
from gateway.simulator.state import SimState

AZURE_API_VERSIONS = frozenset({"preview", "v1"})


@dataclass
class Caller:
    key: str
    headers: dict[str, str] = field(default_factory=dict)


def sim_of(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def _mask(key: str) -> str:
    return key[:3] + "*" * 6 + key[-4:] if len(key) > 8 else "*" * len(key)


def _api_key(request: Request, dialect: str) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    if not key and dialect == "azure":
        key = request.headers.get("api-key", "").strip()
    return key or None


def authenticate(request: Request, state: SimState, dialect: str) -> str:
    key = _api_key(request, dialect)
    if key is None:
        where = "an 'api-key' header or " if dialect == "azure" else ""
        raise SimError(
            401,
            f"You didn't provide an API key. You need to provide your API key in {where}an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if state.config.api_keys and key not in state.config.api_keys:
        raise SimError(401, f"Incorrect API key provided: {_mask(key)}.", code="invalid_api_key")
    return key


def check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if version is None:
        raise SimError(
            400, "Missing required query parameter 'api-version'.", param="api-version", code="missing_api_version"
        )
    if version not in AZURE_API_VERSIONS and not version.endswith("-preview"):
        raise SimError(
            400, f"API version '{version}' is not supported.", param="api-version", code="unsupported_api_version"
        )


async def guard(
    request: Request, op: str, *, dialect: str, feature: str | None = None, create_like: bool = False
) -> Caller:
    state = sim_of(request)
    state.count(op)
    profile = state.profile
    if profile.dialect != dialect or (feature is not None and not profile.has(feature)):
        raise invalid_url(request.method, request.url.path)
    key = authenticate(request, state, dialect)
    if dialect == "azure":
        check_api_version(request)
    await state.faults.apply()
    headers = state.rate_limit(key) if create_like else {}
    return Caller(key, headers)
