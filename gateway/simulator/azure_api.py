"""The Azure OpenAI Sora 1 preview jobs dialect under ``/openai/v1`` (``api-version`` required).

A moderation word in the prompt does not refuse the create: like Azure, the job is
accepted and then fails in preprocessing with ``failure_reason: "input_moderation"``.
The ``fail`` fault makes it fail while running with ``failure_reason: "internal_error"``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.simulator.bodies import Body, read_body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.errors import SimError, invalid_url, invalid_value
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import Job, azure_id, durations
from gateway.simulator.openai_misc import model_list
from gateway.simulator.resources import azure_job, list_page
from gateway.simulator.state import SimState
from gateway.simulator.validate import flagged, prompt_of

BASE = "/openai/v1/video/generations"
CREATE_FIELDS = ("model", "prompt", "width", "height", "n_seconds", "n_variants")
# field -> (default, minimum, maximum)
INT_FIELDS: dict[str, tuple[int, int, int]] = {"n_seconds": (5, 1, 20), "n_variants": (1, 1, 2)}
MODERATION_FAILURE = ("input_moderation", "The prompt was flagged by content moderation.")
INTERNAL_FAILURE = ("internal_error", "Video generation failed.")
CONTENT_VARIANTS = {"video": "video", "thumbnail": "azure_thumbnail"}


def _int(body: Body, name: str, default: int | None, low: int, high: int) -> int:
    value = body.fields.get(name, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SimError(
            400,
            f"Invalid value for '{name}': {value!r}. Expected an integer from {low} to {high}.",
            param=name,
            code="invalid_value",
        )
    return value


def _new_job(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(CREATE_FIELDS)
    prompt = prompt_of(body)
    model = body.fields.get("model", state.profile.default_model)
    base = state.profile.base_model(model) if isinstance(model, str) else None
    if base is None:
        raise invalid_value("model", model, tuple(state.profile.model_ids()))
    default_w, default_h = (int(v) for v in state.profile.default_size.split("x"))
    width = _int(body, "width", default_w, 1, 4096)
    height = _int(body, "height", default_h, 1, 4096)
    size = f"{width}x{height}"
    if size not in state.profile.models[base]:
        raise invalid_value("width", size, state.profile.models[base])
    n_seconds, n_variants = (_int(body, name, *spec) for name, spec in INT_FIELDS.items())
    state.admit(caller.key, "azure")
    queue_s, run_s = durations(base, n_seconds, state.config.time_scale, n_variants)
    failure, fail_after = None, None
    if flagged(state.config.moderation_words, prompt):
        failure, fail_after = MODERATION_FAILURE, 0.4 * queue_s
    elif state.faults.job_fails():
        failure, fail_after = INTERNAL_FAILURE, queue_s + 0.5 * run_s
    job = Job(
        id=azure_id("task"),
        owner=caller.key,
        dialect="azure",
        kind="azure_create",
        model=model,
        base_model=base,
        prompt=prompt,
        size=size,
        segments=(Segment(prompt, n_seconds),),
        created=state.now(),
        queue_s=queue_s,
        run_s=run_s,
        ttl_s=state.config.ttl_seconds,
        fail_after=fail_after,
        failure=failure,
        n_variants=n_variants,
        generation_ids=tuple(azure_id("gen") for _ in range(n_variants)),
    )
    return state.add_job(job)


def _job_response(state: SimState, job: Job, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(azure_job(job, state.now()), headers=headers)


async def create_job(request: Request) -> Response:
    caller = await guard(request, "azure_create", dialect="azure", create_like=True)
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    idem = request.headers.get("idempotency-key")
    replayed = state.replay(caller.key, idem, "azure_create")
    if replayed is not None:
        return _job_response(state, state.jobs[replayed], caller.headers)
    job = _new_job(state, caller, body)
    state.remember(caller.key, idem, "azure_create", job.id)
    await state.faults.delay_response()
    return _job_response(state, job, caller.headers)


async def list_jobs(request: Request) -> Response:
    caller = await guard(request, "azure_list", dialect="azure")
    state = sim_of(request)
    jobs = list(state.owned_jobs(caller.key, "azure"))
    wanted = {s for s in request.query_params.get("statuses", "").split(",") if s}
    if wanted:
        now = state.now()
        jobs = [j for j in jobs if j.azure_status(now) in wanted]
    return JSONResponse(list_page(request, state, jobs, azure_job))


async def get_job(request: Request) -> Response:
    caller = await guard(request, "azure_retrieve", dialect="azure")
    state = sim_of(request)
    return _job_response(state, state.get_job(request.path_params["job_id"], caller.key, "azure", "Job"))


async def delete_job(request: Request) -> Response:
    caller = await guard(request, "azure_delete", dialect="azure")
    state = sim_of(request)
    job = state.get_job(request.path_params["job_id"], caller.key, "azure", "Job")
    job.deleted = True
    content: ContentStore = request.app.state.content
    content.forget(job.id)
    return Response(status_code=204)


def _generation(state: SimState, caller: Caller, gen_id: str) -> tuple[Job, int]:
    found = state.generations.get(gen_id)
    job = state.jobs.get(found[0]) if found else None
    if found is None or job is None or job.deleted or job.owner != caller.key or not job.content_ready(state.now()):
        raise SimError(404, f"Generation with id '{gen_id}' not found.", code="not_found")
    return job, found[1]


async def get_generation(request: Request) -> Response:
    caller = await guard(request, "azure_retrieve", dialect="azure")
    state = sim_of(request)
    job, index = _generation(state, caller, request.path_params["generation_id"])
    data: dict[str, Any] = azure_job(job, state.now())["generations"][index]
    return JSONResponse(data)


async def generation_content(request: Request) -> Response:
    caller = await guard(request, "azure_content", dialect="azure")
    state = sim_of(request)
    variant = CONTENT_VARIANTS.get(request.path_params["variant"])
    if variant is None:
        raise invalid_url(request.method, request.url.path)
    job, index = _generation(state, caller, request.path_params["generation_id"])
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, variant, index)
    return file_response(request, path, media_type)


async def list_models(request: Request) -> Response:
    await guard(request, "azure_models", dialect="azure")
    return JSONResponse(model_list(sim_of(request).profile, owned_by="system"))


ROUTES = [
    Route(BASE + "/jobs", create_job, methods=["POST"]),
    Route(BASE + "/jobs", list_jobs, methods=["GET"]),
    Route(BASE + "/jobs/{job_id}", get_job, methods=["GET"]),
    Route(BASE + "/jobs/{job_id}", delete_job, methods=["DELETE"]),
    Route(BASE + "/{generation_id}", get_generation, methods=["GET"]),
    Route(BASE + "/{generation_id}/content/{variant:str}", generation_content, methods=["GET"]),
    Route("/openai/v1/models", list_models, methods=["GET"]),
]
