"""Test and operations endpoints under ``/_sim`` (no auth, never faulted)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.simulator.bodies import read_body
from gateway.simulator.errors import SimError
from gateway.simulator.faults import parse_faults
from gateway.simulator.guard import sim_of


async def stats(request: Request) -> Response:
    return JSONResponse(sim_of(request).stats())


async def reset(request: Request) -> Response:
    """Zero the counters (and rate windows); ``?jobs=1`` also forgets all jobs."""
    state = sim_of(request)
    state.reset_counters(jobs=request.query_params.get("jobs", "").lower() in {"1", "true", "yes"})
    return JSONResponse(state.stats())


async def set_profile(request: Request) -> Response:
    """Imitate another profile from now on: ``{"profile": "name"}`` (jobs made so far stay their provider's)."""
    body = await read_body(request, allow_form=False)
    state = sim_of(request)
    state.set_profile(body.fields.get("profile"))
    return JSONResponse({"profile": state.profile.name})


async def set_faults(request: Request) -> Response:
    """Replace the fault spec at run time: ``{"faults": "5xx=0.5,slow=0.1"}`` (empty string: none)."""
    body = await read_body(request, allow_form=False)
    spec = body.fields.get("faults", "")
    try:
        parsed = parse_faults(spec if isinstance(spec, str) else None)
    except ValueError as exc:
        raise SimError(400, str(exc), param="faults", code="invalid_value") from None
    state = sim_of(request)
    state.faults.spec = parsed
    state.config.faults = parsed
    return JSONResponse({"faults": parsed.describe()})


async def expire(request: Request) -> Response:
    """Expire a job's (or one of its variants') content now."""
    state = sim_of(request)
    ident = request.path_params["object_id"]
    job_id = state.variants[ident][0] if ident in state.variants else ident
    job = state.jobs.get(job_id)
    if job is None or job.deleted:
        raise SimError(404, f"No job or variant with id '{ident}'.", code="not_found")
    now = state.now()
    job.expired_at = now
    return JSONResponse({"id": job.id, "expired": True, "expires_at": int(now)})


ROUTES = [
    Route("/_sim/stats", stats, methods=["GET"]),
    Route("/_sim/reset", reset, methods=["POST"]),
    Route("/_sim/profile", set_profile, methods=["POST"]),
    Route("/_sim/faults", set_faults, methods=["POST"]),
    Route("/_sim/expire/{object_id}", expire, methods=["POST"]),
]
