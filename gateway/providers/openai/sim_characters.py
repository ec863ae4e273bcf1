"""Characters (``openai-2026-03``): ``POST /v1/videos/characters`` from a video, ``GET`` one back."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.providers.openai.sim_derived import probe_upload
from gateway.simulator.bodies import read_body
from gateway.simulator.errors import SimError, missing
from gateway.simulator.guard import guard, sim_of

MAX_CHARACTER_NAME = 80


@dataclass
class Character:
    id: str
    owner: str
    name: str
    created_at: int

    def json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at}


async def create_character(request: Request) -> Response:
    caller = await guard(request, "characters", needs="characters", create_like=True)
    state = sim_of(request)
    body = await read_body(request)
    idem = request.headers.get("idempotency-key")
    replayed = state.replay(caller.key, idem, "characters")
    if replayed is not None:
        return JSONResponse(state.objects[replayed].json(), headers=caller.headers)
    body.only(("video", "name"))
    upload = body.files.get("video")
    if upload is None or not upload.data:
        raise missing("video")
    name = body.fields.get("name")
    if name is None:
        raise missing("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_CHARACTER_NAME:
        raise SimError(
            400, f"Invalid 'name': 1 to {MAX_CHARACTER_NAME} characters.", param="name", code="invalid_value"
        )
    await probe_upload(upload)
    character = Character("char_" + secrets.token_hex(16), caller.key, name, int(state.now()))
    state.objects[character.id] = character
    state.remember(caller.key, idem, "characters", character.id)
    return JSONResponse(character.json(), headers=caller.headers)


async def get_character(request: Request) -> Response:
    caller = await guard(request, "characters", needs="characters")
    state = sim_of(request)
    ident = request.path_params["character_id"]
    character = state.objects.get(ident)
    if not isinstance(character, Character) or character.owner != caller.key:
        raise SimError(404, f"Character with id '{ident}' not found.", code="not_found")
    return JSONResponse(character.json())


ROUTES = [
    Route("/v1/videos/characters", create_character, methods=["POST"]),
    Route("/v1/videos/characters/{character_id}", get_character, methods=["GET"]),
]
