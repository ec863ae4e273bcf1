"""``POST /v1/gateway/stories``: scenes in, one film out (a video object, polled through ``/v1/videos``).

Body: ``{"scenes": [{"prompt", "seconds"}, ...], "model", "size", "style_preset", "negative_prompt",
"output_format", "callback_url"}`` (the film's end is announced there). The answer is the film's video
object (``seconds`` = the total, ``scenes`` = the scene videos' ids); retrieve, list, download and delete
it like any video.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import invalid
from gateway.faces.creates import create_like
from gateway.faces.hints import hint
from gateway.faces.openai_videos import created_response, resume_video
from gateway.faces.requests import OPENAI, STORY, whole_seconds
from gateway.pipeline.stories import Scene, StoryService
from gateway.policies.model import Tenant

STORY_FIELDS = {"scenes": (list,), **OPENAI.fields(STORY)}  # the film-wide fields, then its scenes
SCENE_FIELDS = ("prompt", "seconds")


def stories(request: Request) -> StoryService:
    service: StoryService = request.app.state.ctx.stories
    return service


def parse_scenes(value: Any) -> list[Scene]:
    if not isinstance(value, list) or not value:
        raise invalid('Invalid \'scenes\': expected a non-empty list of {"prompt", "seconds"}.', "scenes")
    scenes: list[Scene] = []
    for i, item in enumerate(value):
        where = f"scenes[{i}]"
        if not isinstance(item, dict):
            raise invalid(f"Invalid '{where}': expected an object with 'prompt' and 'seconds'.", where)
        unknown = next((k for k in item if k not in SCENE_FIELDS), None)
        if unknown is not None:
            said = hint(unknown, SCENE_FIELDS)
            message = f"Unknown parameter: '{where}.{unknown}'." + (f" {said}" if said else "")
            raise invalid(message, f"{where}.{unknown}", "unknown_parameter")
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid(f"Invalid '{where}.prompt': must be a non-empty string.", f"{where}.prompt")
        scenes.append(Scene(prompt=prompt, seconds=whole_seconds(item.get("seconds"), f"{where}.seconds")))
    return scenes


async def create_story(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        scenes = parse_scenes(data.get("scenes"))
        base = OPENAI.request(data, STORY)
        return created_response(await stories(request).create(tenant, scenes, base), request)

    # Idempotency-Key and the door's request count, as every create
    return await create_like(request, answer, fields=STORY_FIELDS, required=("scenes",), resume=resume_video(request))


routes = [Route("/v1/gateway/stories", create_story, methods=["POST"])]
