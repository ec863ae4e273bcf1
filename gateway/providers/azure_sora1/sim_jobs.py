"""The simulated Azure OpenAI Sora 1 preview jobs API under ``/openai/v1`` (``api-version`` required).

A moderation word in the prompt does not refuse the create: like Azure, the job is accepted and
then fails in preprocessing with ``failure_reason: "input_moderation"``. The ``fail`` fault makes
it fail while running with ``failure_reason: "internal_error"``. Each job renders ``n_variants``
generations, each with its own id and content.
"""

from __future__ import annotations

import string
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.azure_sora1.table import MODEL_CREATED, MODEL_SLOWDOWN
from gateway.simulator.bodies import Body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.errors import SimError, invalid_value
from gateway.simulator.fields import flagged, integer, prompt_of
from gateway.simulator.generate import generation, start_job
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, Job, random_id
from gateway.simulator.paging import list_page
from gateway.simulator.state import SimState

BASE = "/openai/v1/video/generations"
CREATE_FIELDS = ("model", "prompt", "width", "height", "n_seconds", "n_variants")
OMITTED_SIZE = (480, 480)  # width x height of a create that names neither
MAX_VARIANTS = 2
MODERATION_FAILURE = ("input_moderation", "The prompt was flagged by content moderation.")
INTERNAL_FAILURE = ("internal_error", "Video generation failed.")
CONTENT_VARIANTS = {"video": "video", "thumbnail": "thumbnail_jpeg"}  # its variant -> the engine's media
ID_CHARS = string.digits + "abcdefghjkmnpqrstvwxyz"

# job status by (phase, whether in the later part of it); the later part starts at LATE_SPLIT of the phase
STATUS: dict[tuple[str, bool], str] = {
    ("queued", False): "preprocessing",
    ("queued", True): "queued",
    ("in_progress", False): "running",
    ("in_progress", True): "processing",
    (DONE, False): "succeeded",
    (FAILED, False): "failed",
}
LATE_SPLIT: dict[str, float] = {"queued": 0.4, "in_progress": 0.8}


def job_status(job: Job, now: float) -> str:
    phase = job.phase(now)
    return STATUS[(phase, phase in LATE_SPLIT and job.late(now, LATE_SPLIT[phase]))]


def _ts(value: float | None) -> int | None:
    return int(value) if value is not None else None


def azure_id(prefix: str) -> str:
    return random_id(prefix + "_", 26, ID_CHARS)


def job_json(job: Job, now: float) -> dict[str, Any]:
    """A ``video.generation.job``; ``generations`` appear once it succeeded."""
    status = job_status(job, now)
    finished = job.finished(now)
    generations = []
    if job.phase(now) == DONE:
        generations = [
            {
                "object": "video.generation",
                "id": gen_id,
                "job_id": job.id,
                "created_at": _ts(finished),
                "width": job.width,
                "height": job.height,
                "n_seconds": job.seconds,
                "prompt": job.prompt,
            }
            for gen_id in job.variant_ids
        ]
    return {
        "object": "video.generation.job",
        "id": job.id,
        "status": status,
        "created_at": job.created_at,
        "finished_at": _ts(finished),
        "expires_at": _ts(job.expires(now)),
        "generations": generations,
        "prompt": job.prompt,
        "model": job.model,
        "n_variants": job.variants,
        "n_seconds": job.seconds,
        "height": job.height,
        "width": job.width,
        "failure_reason": job.failure[0] if status == "failed" and job.failure else None,
    }


def _job_response(state: SimState, job: Job, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(job_json(job, state.now()), headers=headers)


async def _new_job(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(CREATE_FIELDS)
    caps = state.profile.caps
    prompt = prompt_of(body)
    model = body.fields.get("model", caps.default_model)
    if not isinstance(model, str) or model not in caps.models:
        raise invalid_value("model", model, tuple(caps.models))
    width = integer(body, "width", OMITTED_SIZE[0], 1, 4096)
    height = integer(body, "height", OMITTED_SIZE[1], 1, 4096)
    size = f"{width}x{height}"
    if size not in caps.models[model]:
        raise invalid_value("width", size, caps.models[model])
    lengths = caps.clip_seconds
    n_seconds = integer(body, "n_seconds", caps.default_seconds, min(lengths), max(lengths))
    n_variants = integer(body, "n_variants", 1, 1, MAX_VARIANTS)
    return start_job(
        state,
        caller.key,
        job_id=azure_id("task"),
        kind="create",
        model=model,
        base_model=model,
        prompt=prompt,
        size=size,
        segments=[Segment(prompt, n_seconds)],
        gen_seconds=n_seconds,
        fault_failure=INTERNAL_FAILURE,
        slowdown=MODEL_SLOWDOWN.get(model, 1.0),
        variant_ids=tuple(azure_id("gen") for _ in range(n_variants)),
        early_failure=MODERATION_FAILURE if flagged(state.config.moderation_words, prompt) else None,
    )


async def create_job(request: Request) -> Response:
    caller = await guard(request, "azure_create", create_like=True)
    return await generation(request, "azure_create", caller, _new_job, _job_response, allow_form=False)


async def list_jobs(request: Request) -> Response:
    caller = await guard(request, "azure_list")
    state = sim_of(request)
    jobs = list(state.owned_jobs(caller.key))
    wanted = {s for s in request.query_params.get("statuses", "").split(",") if s}
    if wanted:
        now = state.now()
        jobs = [j for j in jobs if job_status(j, now) in wanted]
    return JSONResponse(list_page(request, state, jobs, job_json))


async def get_job(request: Request) -> Response:
    caller = await guard(request, "azure_retrieve")
    state = sim_of(request)
    return _job_response(state, state.get_job(request.path_params["job_id"], caller.key, "Job"))


async def delete_job(request: Request) -> Response:
    caller = await guard(request, "azure_delete")
    state = sim_of(request)
    job = state.get_job(request.path_params["job_id"], caller.key, "Job")
    job.deleted = True
    content: ContentStore = request.app.state.content
    content.forget(job.id)
    return Response(status_code=204)


def _generation(state: SimState, caller: Caller, gen_id: str) -> tuple[Job, int]:
    found = state.variants.get(gen_id)
    job = state.jobs.get(found[0]) if found else None
    if found is None or job is None or job.deleted or job.owner != caller.key or not job.content_ready(state.now()):
        raise SimError(404, f"Generation with id '{gen_id}' not found.", code="not_found")
    return job, found[1]


async def get_generation(request: Request) -> Response:
    caller = await guard(request, "azure_retrieve")
    state = sim_of(request)
    job, index = _generation(state, caller, request.path_params["generation_id"])
    data: dict[str, Any] = job_json(job, state.now())["generations"][index]
    return JSONResponse(data)


async def generation_content(request: Request) -> Response:
    caller = await guard(request, "azure_content")
    state = sim_of(request)
    media = CONTENT_VARIANTS.get(request.path_params["variant"])
    if media is None:
        raise state.profile.unknown_route(request.method, request.url.path)
    job, index = _generation(state, caller, request.path_params["generation_id"])
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, media, index)
    return file_response(request, path, media_type)


async def list_models(request: Request) -> Response:
    await guard(request, "azure_models")
    models = sim_of(request).profile.caps.models
    data = [{"id": m, "object": "model", "created": MODEL_CREATED.get(m, 0), "owned_by": "system"} for m in models]
    return JSONResponse({"object": "list", "data": data})


ROUTES = [
    Route(BASE + "/jobs", create_job, methods=["POST"]),
    Route(BASE + "/jobs", list_jobs, methods=["GET"]),
    Route(BASE + "/jobs/{job_id}", get_job, methods=["GET"]),
    Route(BASE + "/jobs/{job_id}", delete_job, methods=["DELETE"]),
    Route(BASE + "/{generation_id}", get_generation, methods=["GET"]),
    Route(BASE + "/{generation_id}/content/{variant:str}", generation_content, methods=["GET"]),
    Route("/openai/v1/models", list_models, methods=["GET"]),
]
