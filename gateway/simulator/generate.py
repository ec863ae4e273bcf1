"""The shared path of every OpenAI call that starts a generation (create, remix, extend, edit).

guard → parse body → ``Idempotency-Key`` replay → the operation's own validation →
moderation → concurrency → a new :class:`Job`. Nothing is stored before validation passed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.media.render import Segment
from gateway.simulator.bodies import Body, read_body
from gateway.simulator.errors import SimError
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, Job, durations, video_id
from gateway.simulator.resources import video_resource
from gateway.simulator.state import SimState

GENERATION_FAILED = ("video_generation_failed", "Video generation failed. Please try again with a different prompt.")

Build = Callable[[SimState, Caller, Body], Awaitable[Job]]


def video_json(state: SimState, job: Job, headers: dict[str, str] | None = None) -> JSONResponse:
    """A VideoResource response carrying ``openai-poll-after-ms``."""
    out = {**(headers or {}), "openai-poll-after-ms": str(state.config.poll_after_ms)}
    return JSONResponse(video_resource(job, state.now()), headers=out)


def require_completed(state: SimState, job: Job, param: str | None) -> None:
    phase = job.phase(state.now())
    if phase == DONE and job.content_ready(state.now()):
        return
    reason = {DONE: "its content has expired", FAILED: "it failed"}.get(phase, f"it is still {phase}")
    raise SimError(
        400,
        f"Video '{job.id}' cannot be used: {reason}. Only completed videos are accepted.",
        param=param,
        code="video_not_ready",
    )


def start_job(
    state: SimState,
    owner: str,
    *,
    kind: str,
    model: str,
    base_model: str,
    prompt: str,
    size: str,
    segments: Sequence[Segment],
    gen_seconds: float,
    remixed_from: str | None = None,
) -> Job:
    """Admit (concurrency limit), draw the ``fail`` fault and record a new OpenAI job."""
    state.admit(owner, "openai")
    queue_s, run_s = durations(base_model, gen_seconds, state.config.time_scale)
    fails = state.faults.job_fails()
    job = Job(
        id=video_id(),
        owner=owner,
        dialect="openai",
        kind=kind,
        model=model,
        base_model=base_model,
        prompt=prompt,
        size=size,
        segments=tuple(segments),
        created=state.now(),
        queue_s=queue_s,
        run_s=run_s,
        ttl_s=state.config.ttl_seconds,
        fail_after=queue_s + 0.5 * run_s if fails else None,
        failure=GENERATION_FAILED if fails else None,
        remixed_from=remixed_from,
    )
    return state.add_job(job)


async def generate(request: Request, op: str, build: Build, feature: str | None = None) -> Response:
    state = sim_of(request)
    caller = await guard(request, op, dialect="openai", feature=feature, create_like=True)
    body = await read_body(request)
    idem = request.headers.get("idempotency-key")
    replayed = state.replay(caller.key, idem, op)
    if replayed is not None:
        return video_json(state, state.jobs[replayed], caller.headers)
    job = await build(state, caller, body)
    state.remember(caller.key, idem, op, job.id)
    await state.faults.delay_response()
    return video_json(state, job, caller.headers)
