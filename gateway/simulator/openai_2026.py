"""Endpoints added by the ``openai-2026-03`` profile: extensions, edits, characters.

On profiles without the feature, :func:`guard` answers 404 ``Invalid URL`` before
anything else; on profiles with it, bad input is refused (400) before a generation starts.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.probe import probe_video
from gateway.media.render import Segment
from gateway.simulator.bodies import Body, Upload, read_body
from gateway.simulator.errors import SimError, missing
from gateway.simulator.generate import generate, require_completed, start_job
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import Job
from gateway.simulator.state import Character, SimState
from gateway.simulator.validate import choice, moderate, prompt_of, video_ref

MAX_CHARACTER_NAME = 80


@dataclass(frozen=True)
class Source:
    segments: tuple[Segment, ...]
    size: str
    model: str
    base_model: str


def _probe_bytes(data: bytes) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        Path(tmp.name).write_bytes(data)
        return probe_video(tmp.name)


async def _probe_upload(upload: Upload) -> tuple[int, str]:
    """(seconds, size) of an uploaded video file, or a 400 when it is not one."""
    try:
        info = await asyncio.to_thread(_probe_bytes, upload.data)
    except Exception:
        raise SimError(
            400, "Invalid 'video': the file is not a readable video.", param="video", code="invalid_value"
        ) from None
    seconds = max(1, round(float(info["duration"])))
    return seconds, "1280x720" if info["width"] >= info["height"] else "720x1280"


def _require_video(body: Body) -> None:
    if "video" not in body.fields and "video" not in body.files:
        raise missing("video")


async def _source(state: SimState, caller: Caller, body: Body) -> Source:
    """The video to extend or edit: an uploaded file part, or ``{"id": ...}`` of a completed video."""
    upload = body.files.get("video")
    if upload is not None:
        seconds, size = await _probe_upload(upload)
        model = state.profile.default_model
        return Source((Segment(f"upload:{upload.filename}:{len(upload.data)}", seconds),), size, model, model)
    job = state.get_job(video_ref(body), caller.key, "openai")
    require_completed(state, job, "video")
    return Source(job.segments, job.size, job.model, job.base_model)


async def _build_extend(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(("video", "prompt", "seconds"))
    _require_video(body)
    prompt = prompt_of(body)
    seconds = int(choice(body, "seconds", state.profile.extension_seconds, None))
    src = await _source(state, caller, body)
    moderate(state.config.moderation_words, prompt)
    return start_job(
        state,
        caller.key,
        kind="extend",
        model=src.model,
        base_model=src.base_model,
        prompt=prompt,
        size=src.size,
        segments=[*src.segments, Segment(prompt, seconds)],
        gen_seconds=seconds,
    )


async def _build_edit(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(("video", "prompt"))
    _require_video(body)
    prompt = prompt_of(body)
    src = await _source(state, caller, body)
    moderate(state.config.moderation_words, prompt)
    seconds = round(sum(s.seconds for s in src.segments))
    return start_job(
        state,
        caller.key,
        kind="edit",
        model=src.model,
        base_model=src.base_model,
        prompt=prompt,
        size=src.size,
        segments=[Segment(prompt, seconds)],
        gen_seconds=seconds,
    )


async def extend_video(request: Request) -> Response:
    return await generate(request, "extend", _build_extend, feature="extensions")


async def edit_video(request: Request) -> Response:
    return await generate(request, "edit", _build_edit, feature="edits")


def _character_json(character: Character) -> dict[str, object]:
    return {"id": character.id, "name": character.name, "created_at": character.created_at}


async def create_character(request: Request) -> Response:
    caller = await guard(request, "characters", dialect="openai", feature="characters", create_like=True)
    state = sim_of(request)
    body = await read_body(request)
    idem = request.headers.get("idempotency-key")
    replayed = state.replay(caller.key, idem, "characters")
    if replayed is not None:
        return JSONResponse(_character_json(state.characters[replayed]), headers=caller.headers)
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
    await _probe_upload(upload)
    character = Character("char_" + secrets.token_hex(16), caller.key, name, int(state.now()))
    state.characters[character.id] = character
    state.remember(caller.key, idem, "characters", character.id)
    return JSONResponse(_character_json(character), headers=caller.headers)


async def get_character(request: Request) -> Response:
    caller = await guard(request, "characters", dialect="openai", feature="characters")
    state = sim_of(request)
    ident = request.path_params["character_id"]
    character = state.characters.get(ident)
    if character is None or character.owner != caller.key:
        raise SimError(404, f"Character with id '{ident}' not found.", code="not_found")
    return JSONResponse(_character_json(character))


ROUTES = [
    Route("/v1/videos/extensions", extend_video, methods=["POST"]),
    Route("/v1/videos/edits", edit_video, methods=["POST"]),
    Route("/v1/videos/characters", create_character, methods=["POST"]),
    Route("/v1/videos/characters/{character_id}", get_character, methods=["GET"]),
]
