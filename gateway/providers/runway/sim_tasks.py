"""The simulated Runway task API: ``POST /v1/text_to_video``, ``POST /v1/image_to_video``,
``GET``/``DELETE /v1/tasks/{id}``, ``GET /v1/organization`` (and the CDN of :mod:`.sim_cdn`).

A create answers ``{"id": "<uuid>", "estimatedCost": {"credits": N}}``; no ``Idempotency-Key`` is
honoured (Runway has none). Limits, the Runway way (Runway-authored rw-api-reference, tiers):

* ``--max-concurrent N``: per key and model, a task beyond N running ones is accepted and sits in
  ``THROTTLED`` until a slot frees (first come, first served), then ``PENDING``, ``RUNNING``... never a 429.
* ``--rpm N`` is read as Runway's daily generation limit: N creates per key and model in a rolling
  24 h x ``--time-scale`` window; the next is refused 429 (nothing is created).

Moderation, as failed tasks (Runway moderates after accepting): the first ``--moderation-words`` word
in ``promptText`` fails the task while PENDING with ``failureCode: SAFETY.INPUT.TEXT``; any other word
lets it run and fails it at output with ``SAFETY.OUTPUT.VIDEO``. The ``fail`` fault fails a task while
RUNNING with ``INTERNAL.BAD_OUTPUT.CODE01``. ``DELETE`` cancels an active task (then ``CANCELLED``) and
deletes a finished one (then 404).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.runway.sim_cdn import DAY_S, cdn_video, signed_url
from gateway.providers.runway.sim_fields import Create, check_create
from gateway.providers.runway.table import MODEL_SLOWDOWN, size_of
from gateway.simulator.bodies import read_body
from gateway.simulator.content import ContentStore
from gateway.simulator.errors import SimError
from gateway.simulator.generate import scripted_failure
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import ACTIVE, DONE, FAILED, RUNNING, Failure, Job, durations
from gateway.simulator.state import SimState

INPUT_SAFETY: Failure = ("SAFETY.INPUT.TEXT", "Your prompt was flagged by our content moderation system.")
OUTPUT_SAFETY: Failure = ("SAFETY.OUTPUT.VIDEO", "The generated video was flagged by our content moderation system.")
INTERNAL: Failure = ("INTERNAL.BAD_OUTPUT.CODE01", "An unexpected error occurred.")
CANCELLED: Failure = ("CANCELLED", "The task was cancelled.")
CREDIT_BALANCE = 1_000_000
CREATE_OPS = {"t2v": "runway_text_to_video", "i2v": "runway_image_to_video"}


@dataclass
class RunwayJob(Job):
    throttled_s: float = 0.0  # seconds THROTTLED before it could start
    cancelled: bool = False
    credits: int = 0  # what it costs


def task_status(job: Job, now: float) -> str:
    phase = job.phase(now)
    if phase == FAILED:
        return "CANCELLED" if getattr(job, "cancelled", False) else "FAILED"
    if phase == DONE:
        return "SUCCEEDED"
    if phase == RUNNING:
        return "RUNNING"
    return "THROTTLED" if now - job.created < getattr(job, "throttled_s", 0.0) else "PENDING"


def _end(job: Job) -> float:
    end = job.queue_s + job.run_s
    return job.created + (min(end, job.fail_after) if job.fail_after is not None else end)


def slot_start(jobs: Iterable[Job], now: float, limit: int) -> float:
    """When a task asked now may start, with ``limit`` concurrent ones (first come, first served)."""
    if limit <= 0:
        return now
    spans = [(job.created + getattr(job, "throttled_s", 0.0), _end(job)) for job in jobs if not job.deleted]
    spans = [(start, end) for start, end in spans if end > now]
    at = max([now, *(start for start, _ in spans)])  # not before a task that is already waiting
    ends = sorted(end for _, end in spans if end > at)
    return at if len(ends) < limit else ends[len(ends) - limit]


def _failure(state: SimState, prompt: str, queue_s: float, run_s: float) -> tuple[Failure | None, float | None]:
    """(failure, seconds after the start of PENDING it happens)."""
    return scripted_failure(state, prompt, queue_s, run_s, OUTPUT_SAFETY, INTERNAL, INPUT_SAFETY)


def new_task(state: SimState, owner: str, create: Create, endpoint: str) -> RunwayJob:
    now = state.now()
    config = state.config
    provider = state.profile.provider
    mine = [j for j in state.jobs.values() if j.owner == owner and j.provider == provider and j.model == create.model]
    if config.rpm > 0 and sum(1 for j in mine if j.created > now - DAY_S * config.time_scale) >= config.rpm:
        state.rejected["rpm"] += 1
        raise SimError(429, f"You have exceeded the daily task limit for {create.model} ({config.rpm} tasks per day).")
    throttled = slot_start(mine, now, config.max_concurrent) - now
    queue_s, run_s = durations(create.duration, config.time_scale, MODEL_SLOWDOWN.get(create.model, 1.0))
    failure, fail_after = _failure(state, create.prompt, queue_s, run_s)
    wire = create.wire
    rate = wire.credits if create.audio or wire.credits_silent is None else wire.credits_silent
    job = RunwayJob(
        id=str(uuid.uuid4()),
        owner=owner,
        provider=provider,
        kind=endpoint,
        model=create.model,
        base_model=create.model,
        prompt=create.prompt,
        size=size_of(create.ratio),
        segments=(Segment(create.prompt, create.duration),),
        created=now,
        queue_s=throttled + queue_s,
        run_s=run_s,
        ttl_s=config.ttl_seconds,
        fail_after=throttled + fail_after if fail_after is not None else None,
        failure=failure,
        throttled_s=throttled,
        credits=rate * create.duration,
    )
    state.add_job(job)
    return job


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_json(request: Request, state: SimState, job: Job) -> dict[str, Any]:
    now = state.now()
    status = task_status(job, now)
    data: dict[str, Any] = {"id": job.id, "createdAt": _iso(job.created), "status": status}
    credits = getattr(job, "credits", 0)
    if status == "RUNNING":
        data.update(progress=round(job.progress(now) / 100, 2), estimatedCost={"credits": credits})
    elif status == "SUCCEEDED":
        url = signed_url(str(request.base_url), job, now, state.config.time_scale)
        data.update(output=[url], cost={"credits": credits})
    elif status == "FAILED" and job.failure:
        data.update(failure=job.failure[1], failureCode=job.failure[0])
    return data


async def _create(request: Request, endpoint: str) -> Response:
    caller = await guard(request, CREATE_OPS[endpoint])
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    create = check_create(body.fields, endpoint)
    job = new_task(state, caller.key, create, endpoint)
    await state.faults.delay_response()
    return JSONResponse({"id": job.id, "estimatedCost": {"credits": job.credits}})


async def text_to_video(request: Request) -> Response:
    return await _create(request, "t2v")


async def image_to_video(request: Request) -> Response:
    return await _create(request, "i2v")


async def get_task(request: Request) -> Response:
    caller = await guard(request, "runway_task")
    state = sim_of(request)
    job = state.get_job(request.path_params["task_id"], caller.key, "Task")
    return JSONResponse(task_json(request, state, job))


async def delete_task(request: Request) -> Response:
    caller = await guard(request, "runway_delete")
    state = sim_of(request)
    job = state.get_job(request.path_params["task_id"], caller.key, "Task")
    now = state.now()
    if job.phase(now) in ACTIVE and isinstance(job, RunwayJob):
        job.cancelled, job.failure, job.fail_after = True, CANCELLED, now - job.created
    else:
        job.deleted = True
        content: ContentStore = request.app.state.content
        content.forget(job.id)
    return Response(status_code=204)


async def organization(request: Request) -> Response:
    caller = await guard(request, "runway_organization")
    state = sim_of(request)
    config, now = state.config, state.now()
    jobs = list(state.owned_jobs(caller.key))
    spent = sum(getattr(j, "credits", 0) for j in jobs if j.phase(now) != FAILED)
    unlimited = {"maxConcurrentGenerations": 20, "maxDailyGenerations": 30000}
    tier = {
        model: {
            "maxConcurrentGenerations": config.max_concurrent or unlimited["maxConcurrentGenerations"],
            "maxDailyGenerations": config.rpm or unlimited["maxDailyGenerations"],
        }
        for model in state.profile.caps.models
    }
    window = now - DAY_S * config.time_scale
    usage = {m: {"dailyGenerations": sum(1 for j in jobs if j.model == m and j.created > window)} for m in tier}
    return JSONResponse(
        {
            "creditBalance": max(0, CREDIT_BALANCE - spent),
            "tier": {"maxMonthlyCreditSpend": math.floor(CREDIT_BALANCE / 10), "models": tier},
            "usage": {"models": usage},
        }
    )


ROUTES = [
    Route("/v1/text_to_video", text_to_video, methods=["POST"]),
    Route("/v1/image_to_video", image_to_video, methods=["POST"]),
    Route("/v1/tasks/{task_id}", get_task, methods=["GET"]),
    Route("/v1/tasks/{task_id}", delete_task, methods=["DELETE"]),
    Route("/v1/organization", organization, methods=["GET"]),
    Route("/cdn/{task_id}/video.mp4", cdn_video, methods=["GET"]),
]
