"""The simulated Dream Machine generations API, under ``/dream-machine/v1``.

``POST /generations/video`` (and the docs' older ``POST /generations``) answers 201 with a Generation;
``GET /generations/{id}``; ``GET /generations?limit=&offset=`` lists newest first (``{"has_more", "count",
"limit", "offset", "generations"}``); ``DELETE /generations/{id}`` answers 204. States move queued -> dreaming ->
completed (``assets: {"video", "image"}``, plain URLs on ``/dm-cdn``, no key, kept for ``--content-ttl``) or
failed (``failure_reason``: this API has no failure code). No idempotency key is honoured (Luma has none).

A create with ``callback_url`` is called back with the Generation at each state change (the engine's
callbacks: queued too, which Luma may not send; unsigned, as Luma's are). ``--rpm`` and ``--max-concurrent``
are refused 429 (Luma documents no limits for this API). Moderation, as failed generations: the first
``--moderation-words`` word fails it while queued, any other one while dreaming; the ``fail`` fault fails it
while dreaming with an internal error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.luma_dream_machine.sim_fields import Create, check_create
from gateway.providers.luma_dream_machine.table import pixels
from gateway.simulator.bodies import read_body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.errors import SimError
from gateway.simulator.generate import scripted_failure
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import Failure, Job, durations
from gateway.simulator.state import SimState

BASE = "/dream-machine/v1"
INPUT_SAFETY: Failure = ("moderation", "Prompt not allowed: it violates our content moderation guidelines")
OUTPUT_SAFETY: Failure = ("moderation", "The generated video failed content moderation")
INTERNAL: Failure = ("internal", "Internal error while dreaming")
WORDS = {"queued": "queued", "in_progress": "dreaming", "completed": "completed", "failed": "failed"}
MAX_LIMIT = 1000
ASSETS = {"video.mp4": "video", "video_0_thumb.jpg": "thumbnail_jpeg"}  # asset name -> the content store's media


@dataclass
class DreamJob(Job):
    request: dict[str, Any] = field(default_factory=dict)  # the create's echo
    base: str = ""  # the simulator's base URL, for asset URLs (also in callbacks)


def state_word(job: Job, now: float) -> str:
    return WORDS[job.phase(now)]


def _failure(state: SimState, prompt: str, queue_s: float, run_s: float) -> tuple[Failure | None, float | None]:
    return scripted_failure(state, prompt, queue_s, run_s, OUTPUT_SAFETY, INTERNAL, INPUT_SAFETY)


def new_generation(state: SimState, owner: str, create: Create, base: str) -> DreamJob:
    width, height = pixels(create.aspect_ratio, "720p" if create.model == "ray-1-6" else create.resolution)
    slowdown = 0.6 if create.model == "ray-flash-2" else 1.0
    queue_s, run_s = durations(create.seconds, state.config.time_scale, slowdown)
    failure, fail_after = _failure(state, create.prompt, queue_s, run_s)
    job = DreamJob(
        id=str(uuid.uuid4()),
        owner=owner,
        provider=state.profile.provider,
        kind="video",
        model=create.model,
        base_model=create.model,
        prompt=create.prompt,
        size=f"{width}x{height}",
        segments=(Segment(create.prompt, create.seconds),),
        created=state.now(),
        queue_s=queue_s,
        run_s=run_s,
        ttl_s=state.config.ttl_seconds,
        fail_after=fail_after,
        failure=failure,
        request=create.request,
        base=base.rstrip("/"),
    )
    state.add_job(job)
    return job


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def generation_json(job: Job, word: str) -> dict[str, Any]:
    base = getattr(job, "base", "")
    assets = None
    if word == "completed":
        assets = {"video": f"{base}/dm-cdn/{job.id}/video.mp4", "image": f"{base}/dm-cdn/{job.id}/video_0_thumb.jpg"}
    reason = job.failure[1] if word == "failed" and job.failure else None
    return {
        "id": job.id,
        "generation_type": "video",
        "state": word,
        "failure_reason": reason,
        "created_at": _iso(job.created),
        "assets": assets,
        "model": job.model,
        "request": getattr(job, "request", {}),
    }


async def create_generation(request: Request) -> Response:
    caller = await guard(request, "dm_create", create_like=True)
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    create = check_create(body.fields, state.completed_of(caller.key))
    state.admit(caller.key)
    job = new_generation(state, caller.key, create, str(request.base_url))
    if create.callback_url:
        state.callbacks.watch(job, create.callback_url, lambda j, phase: generation_json(j, WORDS[phase]))
    await state.faults.delay_response()
    return JSONResponse(generation_json(job, state_word(job, state.now())), status_code=201)


async def get_generation(request: Request) -> Response:
    caller = await guard(request, "dm_get")
    state = sim_of(request)
    job = state.get_job(request.path_params["generation_id"], caller.key, "Generation")
    return JSONResponse(generation_json(job, state_word(job, state.now())))


def _count(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SimError(400, f"{name}: expected an integer from {low} to {high}")
    return int(raw)


async def list_generations(request: Request) -> Response:
    caller = await guard(request, "dm_list")
    state = sim_of(request)
    limit = _count(request, "limit", 100, 1, MAX_LIMIT)
    offset = _count(request, "offset", 0, 0, 10**9)
    now = state.now()
    jobs = sorted(state.owned_jobs(caller.key), key=lambda j: (j.created, j.seq), reverse=True)
    page = jobs[offset : offset + limit]
    body = {
        "has_more": offset + limit < len(jobs),
        "count": len(page),
        "limit": limit,
        "offset": offset,
        "generations": [generation_json(j, state_word(j, now)) for j in page],
    }
    return JSONResponse(body)


async def delete_generation(request: Request) -> Response:
    caller = await guard(request, "dm_delete")
    state = sim_of(request)
    job = state.get_job(request.path_params["generation_id"], caller.key, "Generation")
    job.deleted = True
    content: ContentStore = request.app.state.content
    content.forget(job.id)
    return Response(status_code=204)


async def asset(request: Request) -> Response:
    state = sim_of(request)
    state.count("dm_cdn")
    job = state.jobs.get(request.path_params["generation_id"])
    media = ASSETS.get(request.path_params["name"])
    if job is None or media is None or not job.content_ready(state.now()):
        return Response("Not Found", status_code=404, media_type="text/plain")
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, media, width=job.width, height=job.height)
    return file_response(request, path, media_type)


ROUTES = [
    Route(f"{BASE}/generations/video", create_generation, methods=["POST"]),
    Route(f"{BASE}/generations", create_generation, methods=["POST"]),
    Route(f"{BASE}/generations", list_generations, methods=["GET"]),
    Route(f"{BASE}/generations/{{generation_id}}", get_generation, methods=["GET"]),
    Route(f"{BASE}/generations/{{generation_id}}", delete_generation, methods=["DELETE"]),
    Route("/dm-cdn/{generation_id}/{name:str}", asset, methods=["GET"]),
]
