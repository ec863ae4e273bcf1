"""What a provider gives the simulator engine: one :class:`SimProfile` per version it imitates.

The engine keeps the state (jobs on a clock, ids, idempotency, counters), faults, limits, media and
the ``/_sim`` routes; a profile brings the provider's own surface: its routes (the profiles of one
provider share them, and read their version's table to tell what is offered), how a key is read and
refused, the status word of a job, and the envelope of a refusal. A provider folder builds its
profiles in ``sim_profile.py``; the engine never names one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.core.capabilities import Capabilities
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError, invalid_url
from gateway.simulator.jobs import Job


def phase_word(job: Job, now: float) -> str:
    """A job's status in the engine's own words: queued, in_progress, completed, failed."""
    return job.phase(now)


def error_json(error: SimError) -> Response:
    """``{"error": {"message", "type", "param", "code"}}``: the gateway's own error shape."""
    return error.response()


@dataclass(frozen=True)
class SimProfile:
    name: str  # what --profile and /_sim/profile take
    provider: str  # profiles of one provider share one set of routes and their jobs
    base_path: str  # where its API starts (what a client's base URL ends with, e.g. "/v1")
    caps: Capabilities  # the version's table: models, sizes, lengths, endpoints, defaults
    routes: Sequence[BaseRoute]  # the provider's API
    ops: tuple[str, ...]  # the call counters /_sim/stats reports for it
    auth: Callable[[Request, SimulatorConfig], str]  # the caller's key, or the provider's refusal (401...)
    status: Callable[[Job, float], str] = phase_word  # a job's status word at a time
    error_response: Callable[[SimError], Response] = error_json  # a refusal in the provider's envelope
    unknown_route: Callable[[str, str], SimError] = invalid_url  # (method, path) -> the 404 it answers


def one_per_version(
    profiles: Mapping[str, Capabilities],
    provider: str,
    base_path: str,
    routes: Sequence[BaseRoute],
    ops: tuple[str, ...],
    auth: Callable[[Request, SimulatorConfig], str],
    status: Callable[[Job, float], str] = phase_word,
    error_response: Callable[[SimError], Response] = error_json,
    unknown_route: Callable[[str, str], SimError] = invalid_url,
) -> list[SimProfile]:
    """A provider's profiles, one per version of its table (``profiles``), all on the same ``routes``, in the
    order of :class:`SimProfile`'s fields."""
    surface = (routes, ops, auth, status, error_response, unknown_route)
    return [SimProfile(name, provider, base_path, caps, *surface) for name, caps in profiles.items()]
