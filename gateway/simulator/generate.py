"""The shared path of every call that starts a generation, whatever the provider.

guard (by the route) → parse body → ``Idempotency-Key`` replay → the operation's own validation
(the provider's ``build``) → concurrency → a new :class:`Job` on the clock, maybe doomed by the
``fail`` fault → the provider's answer (``respond``). Nothing is stored before validation passed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response

from gateway.media.render import Segment
from gateway.simulator.bodies import Body, read_body
from gateway.simulator.fields import flagged
from gateway.simulator.guard import Caller, sim_of
from gateway.simulator.jobs import Failure, Job, durations
from gateway.simulator.state import SimState

EARLY_FAILURE_AT = 0.4  # a job refused by the provider's own checks fails this far into its queue time
OUTPUT_FAILURE_AT = 0.9  # a job whose output is moderated fails this far into its running time

Build = Callable[[SimState, Caller, Body], Awaitable[Job]]
Respond = Callable[[SimState, Job, dict[str, str]], Response]


def start_job(
    state: SimState,
    owner: str,
    *,
    job_id: str,
    kind: str,
    model: str,
    base_model: str,
    prompt: str,
    size: str,
    segments: Sequence[Segment],
    gen_seconds: float,
    fault_failure: Failure,
    slowdown: float = 1.0,
    variant_ids: tuple[str, ...] = (),
    source_id: str | None = None,
    early_failure: Failure | None = None,
) -> Job:
    """Admit (concurrency limit), time and record a new job of the current provider.

    ``early_failure``: the job is accepted and then fails while queued (a provider that moderates
    after accepting); otherwise the ``fail`` fault may make it fail halfway with ``fault_failure``.
    """
    state.admit(owner)
    queue_s, run_s = durations(gen_seconds, state.config.time_scale, slowdown, max(1, len(variant_ids)))
    failure, fail_after = None, None
    if early_failure is not None:
        failure, fail_after = early_failure, EARLY_FAILURE_AT * queue_s
    elif state.faults.job_fails():
        failure, fail_after = fault_failure, queue_s + 0.5 * run_s
    job = Job(
        id=job_id,
        owner=owner,
        provider=state.profile.provider,
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
        fail_after=fail_after,
        failure=failure,
        source_id=source_id,
        variant_ids=variant_ids,
    )
    return state.add_job(job)


async def generation(
    request: Request, op: str, caller: Caller, build: Build, respond: Respond, *, allow_form: bool = True
) -> Response:
    """Answer a create-like call whose guard let ``caller`` through: a replay, or a new job."""
    state = sim_of(request)
    body = await read_body(request, allow_form=allow_form)
    idem = request.headers.get("idempotency-key")
    replayed = state.replay(caller.key, idem, op)
    if replayed is not None:
        return respond(state, state.jobs[replayed], caller.headers)
    job = await build(state, caller, body)
    state.remember(caller.key, idem, op, job.id)
    await state.faults.delay_response()
    return respond(state, job, caller.headers)


def scripted_failure(
    state: SimState,
    prompt: str,
    queue_s: float,
    run_s: float,
    output_safety: Failure,
    internal: Failure,
    input_safety: Failure | None = None,
) -> tuple[Failure | None, float | None]:
    """How a provider's task is made to fail, and how many seconds after its create: a prompt with the first
    moderation word early in its queue time (``input_safety``, where the provider fails a task for its input),
    one with any other late in its running time (``output_safety``), a ``fail`` fault half way through running."""
    words = state.config.moderation_words
    if input_safety is not None and flagged(words[:1], prompt):
        return input_safety, EARLY_FAILURE_AT * queue_s
    if flagged(words[1:], prompt):
        return output_safety, queue_s + OUTPUT_FAILURE_AT * run_s
    if state.faults.job_fails():
        return internal, queue_s + 0.5 * run_s
    return None, None
