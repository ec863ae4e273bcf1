"""The OpenAI Videos dialect: ``/v1/videos`` create, list, retrieve, delete, content, remix."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.simulator.bodies import Body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.errors import SimError, invalid_value
from gateway.simulator.generate import generate, require_completed, start_job, video_json
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, Job
from gateway.simulator.resources import list_page, video_resource
from gateway.simulator.state import SimState
from gateway.simulator.validate import create_spec, moderate, prompt_of

CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
CONTENT_VARIANTS = ("video", "thumbnail", "spritesheet")
# phase -> (code, message) when content is asked for too early or for a failed job
NOT_DOWNLOADABLE: dict[str, tuple[str, str]] = {
    FAILED: ("video_failed", "Video generation failed; there is no content to download."),
}
NOT_READY = ("video_not_ready", "Video is not ready yet, use GET /v1/videos/{video_id} to check its status.")


async def _build_create(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(CREATE_FIELDS)
    spec = create_spec(state.profile, body)
    moderate(state.config.moderation_words, spec.prompt)
    return start_job(
        state,
        caller.key,
        kind="create",
        model=spec.model,
        base_model=spec.base_model,
        prompt=spec.prompt,
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
        source = state.get_job(source_id, caller.key, "openai")
        require_completed(state, source, None)
        moderate(state.config.moderation_words, prompt)
        return start_job(
            state,
            caller.key,
            kind="remix",
            model=source.model,
            base_model=source.base_model,
            prompt=prompt,
            size=source.size,
            segments=[Segment(prompt, source.seconds)],
            gen_seconds=source.seconds,
            remixed_from=source.id,
        )

    return await generate(request, "remix", build)


async def list_videos(request: Request) -> Response:
    caller = await guard(request, "list", dialect="openai")
    state = sim_of(request)
    return JSONResponse(list_page(request, state, list(state.owned_jobs(caller.key, "openai")), video_resource))


async def retrieve_video(request: Request) -> Response:
    caller = await guard(request, "retrieve", dialect="openai")
    state = sim_of(request)
    return video_json(state, state.get_job(request.path_params["video_id"], caller.key, "openai"))


async def delete_video(request: Request) -> Response:
    caller = await guard(request, "delete", dialect="openai")
    state = sim_of(request)
    job = state.get_job(request.path_params["video_id"], caller.key, "openai")
    job.deleted = True
    content: ContentStore = request.app.state.content
    content.forget(job.id)
    return JSONResponse({"id": job.id, "object": "video.deleted", "deleted": True})


async def video_content(request: Request) -> Response:
    caller = await guard(request, "content", dialect="openai")
    state = sim_of(request)
    job = state.get_job(request.path_params["video_id"], caller.key, "openai")
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


ROUTES = [
    Route("/v1/videos", create_video, methods=["POST"]),
    Route("/v1/videos", list_videos, methods=["GET"]),
    Route("/v1/videos/{video_id}/content", video_content, methods=["GET"]),
    Route("/v1/videos/{video_id}/remix", remix_video, methods=["POST"]),
]
# Routes whose paths would also match /v1/videos/{video_id}; they must come before it.
ITEM_ROUTES = [
    Route("/v1/videos/{video_id}", retrieve_video, methods=["GET"]),
    Route("/v1/videos/{video_id}", delete_video, methods=["DELETE"]),
]
