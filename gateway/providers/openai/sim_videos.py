"""The simulated OpenAI Videos API: ``/v1/videos`` create, list, retrieve, delete, content, remix.

Every generating call (these and :mod:`.sim_derived`'s) answers a ``VideoResource`` carrying
``openai-poll-after-ms``; a job doomed by the ``fail`` fault fails halfway with
``video_generation_failed``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.openai.sim_fields import create_spec, moderate
from gateway.providers.openai.table import MODEL_SLOWDOWN
from gateway.simulator.bodies import Body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.errors import SimError, invalid_value
from gateway.simulator.fields import prompt_of
from gateway.simulator.generate import Build, generation, start_job
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, Job
from gateway.simulator.paging import list_page
from gateway.simulator.state import SimState

CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
CONTENT_VARIANTS = ("video", "thumbnail", "spritesheet")  # the engine's media kinds of the same names
GENERATION_FAILED = ("video_generation_failed", "Video generation failed. Please try again with a different prompt.")
# phase -> (code, message) when content is asked for too early or for a failed job
NOT_DOWNLOADABLE: dict[str, tuple[str, str]] = {
    FAILED: ("video_failed", "Video generation failed; there is no content to download."),
}
NOT_READY = ("video_not_ready", "Video is not ready yet, use GET /v1/videos/{video_id} to check its status.")


def _ts(value: float | None) -> int | None:
    return int(value) if value is not None else None


def video_resource(job: Job, now: float) -> dict[str, Any]:
    """A ``VideoResource`` exactly as in the official spec."""
    status = job.phase(now)
    error = None
    if status == FAILED and job.failure:
        error = {"code": job.failure[0], "message": job.failure[1]}
    return {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": status,
        "progress": job.progress(now),
        "created_at": job.created_at,
        "completed_at": _ts(job.finished(now)),
        "expires_at": _ts(job.expires(now)),
        "prompt": job.prompt,
        "size": job.size,
        "seconds": str(job.seconds),
        "remixed_from_video_id": job.source_id,
        "error": error,
    }


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


def start(
    state: SimState,
    caller: Caller,
    kind: str,
    prompt: str,
    *,
    model: str,
    base_model: str,
    size: str,
    segments: Sequence[Segment],
    gen_seconds: float,
    remixed_from: str | None = None,
) -> Job:
    """A new video job (``model`` as asked, ``base_model`` the model it is)."""
    return start_job(
        state,
        caller.key,
        job_id="video_" + secrets.token_hex(24),
        kind=kind,
        model=model,
        base_model=base_model,
        prompt=prompt,
        size=size,
        segments=segments,
        gen_seconds=gen_seconds,
        fault_failure=GENERATION_FAILED,
        slowdown=MODEL_SLOWDOWN.get(base_model, 1.0),
        source_id=remixed_from,
    )


async def generate(request: Request, op: str, build: Build, needs: str | None = None) -> Response:
    """A generating call: the guard, then the engine's path (replay or a new job), a VideoResource back."""
    caller = await guard(request, op, needs=needs, create_like=True)
    return await generation(request, op, caller, build, video_json)


async def _build_create(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(CREATE_FIELDS)
    spec = create_spec(state.profile.caps, body)
    moderate(state.config.moderation_words, spec.prompt)
    return start(
        state,
        caller,
        "create",
        spec.prompt,
        model=spec.model,
        base_model=spec.base_model,
        size=spec.size,
        segments=[Segment(spec.prompt, spec.seconds)],
        gen_seconds=spec.seconds,
    )


async def create_video(request: Request) -> Response:
    return await generate(request, "create", _build_create)


async def remix_video(request: Request) -> Response:
    source_id = request.path_params["video_id"]

    async def build(state: SimState, caller: Caller, body: Body) -> Job:
        body.only(("prompt",))
        prompt = prompt_of(body)
        source = state.get_job(source_id, caller.key)
        require_completed(state, source, None)
        moderate(state.config.moderation_words, prompt)
        return start(
            state,
            caller,
            "remix",
            prompt,
            model=source.model,
            base_model=source.base_model,
            size=source.size,
            segments=[Segment(prompt, source.seconds)],
            gen_seconds=source.seconds,
            remixed_from=source.id,
        )

    return await generate(request, "remix", build)


async def list_videos(request: Request) -> Response:
    caller = await guard(request, "list")
    state = sim_of(request)
    return JSONResponse(list_page(request, state, list(state.owned_jobs(caller.key)), video_resource))


async def retrieve_video(request: Request) -> Response:
    caller = await guard(request, "retrieve")
    state = sim_of(request)
    return video_json(state, state.get_job(request.path_params["video_id"], caller.key))


async def delete_video(request: Request) -> Response:
    caller = await guard(request, "delete")
    state = sim_of(request)
    job = state.get_job(request.path_params["video_id"], caller.key)
    job.deleted = True
    content: ContentStore = request.app.state.content
    content.forget(job.id)
    return JSONResponse({"id": job.id, "object": "video.deleted", "deleted": True})


async def video_content(request: Request) -> Response:
    caller = await guard(request, "content")
    state = sim_of(request)
    job = state.get_job(request.path_params["video_id"], caller.key)
    variant = request.query_params.get("variant", "video")
    if variant not in CONTENT_VARIANTS:
        raise invalid_value("variant", variant, CONTENT_VARIANTS)
    now = state.now()
    phase = job.phase(now)
    if phase != DONE:
        code, message = NOT_DOWNLOADABLE.get(phase, NOT_READY)
        raise SimError(400, message, code=code)
    if not job.content_ready(now):
        raise SimError(404, f"The content of video '{job.id}' has expired.", code="video_expired")
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, variant)
    return file_response(request, path, media_type)


VIDEO_ROUTES = [
    Route("/v1/videos", create_video, methods=["POST"]),
    Route("/v1/videos", list_videos, methods=["GET"]),
    Route("/v1/videos/{video_id}/content", video_content, methods=["GET"]),
    Route("/v1/videos/{video_id}/remix", remix_video, methods=["POST"]),
]
# Routes whose paths would also match /v1/videos/{video_id}; they must come after the others.
ITEM_ROUTES = [
    Route("/v1/videos/{video_id}", retrieve_video, methods=["GET"]),
    Route("/v1/videos/{video_id}", delete_video, methods=["DELETE"]),
]
