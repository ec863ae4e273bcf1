"""The simulated Luma generations API: ``POST /v1/generations`` (201) and ``GET /v1/generations/{id}``.

A create answers 201 with the Generation ``{"id", "created_at", "model", "state": "queued", "type": "video"}``;
no idempotency key is honoured (Luma has none). Its ``state`` moves queued -> processing -> completed (``output:
[{"type": "video", "url"}]``, a presigned URL from :mod:`.sim_cdn`) on the engine's clock, or to failed with
``failure_code`` and ``failure_reason``. Limits, the Luma way (docs guides/rate-limits): ``--rpm`` is the RPM over a
sliding 60 s window and ``--max-concurrent`` the number of active generations; a create beyond either is refused
429 with ``Retry-After`` (not queued). A successful create carries ``X-RateLimit-Limit`` when an RPM is set.

Moderation, as failed generations (Luma's ``content_moderated`` "prompt or input image violated content
guidelines"): the first ``--moderation-words`` word fails the generation while queued, any other one while
processing (the output refused). The ``fail`` fault fails it while processing with ``generation_failed``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.luma.sim_cdn import cdn_video, signed_url
from gateway.providers.luma.sim_fields import Create, check_create
from gateway.providers.luma.table import MODEL, pixels
from gateway.simulator.bodies import read_body
from gateway.simulator.generate import scripted_failure
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, RUNNING, Failure, Job, durations
from gateway.simulator.state import SimState

API_VERSION = "2026-04-01"  # X-API-Version on every response
INPUT_SAFETY: Failure = ("content_moderated", "Prompt violated content guidelines")
OUTPUT_SAFETY: Failure = ("content_moderated", "Generated video violated content guidelines")
INTERNAL: Failure = ("generation_failed", "Internal model error")


def generation_state(job: Job, now: float) -> str:
    phase = job.phase(now)
    if phase == FAILED:
        return "failed"
    if phase == DONE:
        return "completed"
    return "processing" if phase == RUNNING else "queued"


def _failure(state: SimState, prompt: str, queue_s: float, run_s: float) -> tuple[Failure | None, float | None]:
    return scripted_failure(state, prompt, queue_s, run_s, OUTPUT_SAFETY, INTERNAL, INPUT_SAFETY)


def new_generation(state: SimState, owner: str, create: Create) -> Job:
    width, height = pixels(create.aspect_ratio, create.resolution)
    queue_s, run_s = durations(create.seconds, state.config.time_scale)
    failure, fail_after = _failure(state, create.prompt, queue_s, run_s)
    job = Job(
        id=str(uuid.uuid4()),
        owner=owner,
        provider=state.profile.provider,
        kind="video",
        model=MODEL,
        base_model=MODEL,
        prompt=create.prompt,
        size=f"{width}x{height}",
        segments=(Segment(create.prompt, create.seconds),),
        created=state.now(),
        queue_s=queue_s,
        run_s=run_s,
        ttl_s=state.config.ttl_seconds,
        fail_after=fail_after,
        failure=failure,
    )
    return state.add_job(job)


def iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generation_json(base: str, state: SimState, job: Job) -> dict[str, Any]:
    now = state.now()
    word = generation_state(job, now)
    data: dict[str, Any] = {"id": job.id, "created_at": iso(job.created), "model": job.model, "state": word}
    data["type"] = "video"
    if word == "completed":
        data["output"] = [{"type": "video", "url": signed_url(base, job, now, state.config.time_scale)}]
    elif word == "failed" and job.failure:
        data.update(failure_code=job.failure[0], failure_reason=job.failure[1])
    return data


async def create_generation(request: Request) -> Response:
    caller = await guard(request, "luma_create", create_like=True)
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    create = check_create(body.fields, state.completed_of(caller.key))
    state.admit(caller.key)
    if create.start_frame is not None or create.end_frame is not None:
        state.count("luma_create_anchored")  # image to video (a chained part starts from the previous one's end)
    job = new_generation(state, caller.key, create)
    await state.faults.delay_response()
    headers = {"X-API-Version": API_VERSION}
    if state.config.rpm > 0:
        headers["X-RateLimit-Limit"] = str(state.config.rpm)
    return JSONResponse(generation_json(str(request.base_url), state, job), status_code=201, headers=headers)


async def get_generation(request: Request) -> Response:
    caller = await guard(request, "luma_get")
    state = sim_of(request)
    job = state.get_job(request.path_params["generation_id"], caller.key, "Generation")
    body = generation_json(str(request.base_url), state, job)
    return JSONResponse(body, headers={"X-API-Version": API_VERSION})


ROUTES = [
    Route("/v1/generations", create_generation, methods=["POST"]),
    Route("/v1/generations/{generation_id}", get_generation, methods=["GET"]),
    Route("/luma-cdn/{generation_id}/video.mp4", cdn_video, methods=["GET"]),
]
