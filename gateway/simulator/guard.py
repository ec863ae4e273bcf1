"""The steps every API request goes through before its handler does anything.

count the call → does the current profile offer it? → the profile's auth (the key, or its refusal)
→ faults (may delay, drop or refuse) → request-rate limit (create-like calls only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from gateway.simulator.errors import SimError
from gateway.simulator.state import SimState


@dataclass
class Caller:
    key: str
    headers: dict[str, str] = field(default_factory=dict)


def sim_of(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def mask(key: str) -> str:
    return key[:3] + "*" * 6 + key[-4:] if len(key) > 8 else "*" * len(key)


def bearer(request: Request) -> str:
    """The token of ``Authorization: Bearer …`` ('' when there is none)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def no_key(elsewhere: str = "") -> SimError:
    """The 401 for a request without a key (``elsewhere``: "an 'x' header or " where it may also be)."""
    return SimError(
        401,
        f"You didn't provide an API key. You need to provide your API key in {elsewhere}an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    )


def wrong_key(key: str) -> SimError:
    return SimError(401, f"Incorrect API key provided: {mask(key)}.", code="invalid_api_key")


async def guard(request: Request, op: str, *, needs: str | None = None, create_like: bool = False) -> Caller:
    """``needs``: the endpoint (of the profile's table) the route belongs to; without it the route is unknown."""
    state = sim_of(request)
    state.count(op)
    profile = state.profile
    if needs is not None and not profile.caps.has(needs):
        raise profile.unknown_route(request.method, request.url.path)
    key = profile.auth(request, state.config)
    await state.faults.apply()
    headers = state.rate_limit(key) if create_like else {}
    return Caller(key, headers)
