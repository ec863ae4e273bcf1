"""Extensions and edits (``openai-2026-03``): a new video from a completed one, or from an uploaded file.

On a version without the endpoint the guard answers 404 ``Invalid URL`` before anything else; on one
with it, bad input is refused (400) before a generation starts.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.media.probe import probe_video
from gateway.media.render import Segment
from gateway.providers.openai.sim_fields import moderate, video_ref
from gateway.providers.openai.sim_videos import generate, require_completed, start
from gateway.simulator.bodies import Body, Upload
from gateway.simulator.errors import SimError, missing
from gateway.simulator.fields import choice, prompt_of
from gateway.simulator.guard import Caller
from gateway.simulator.jobs import Job
from gateway.simulator.state import SimState


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


async def probe_upload(upload: Upload) -> tuple[int, str]:
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
        seconds, size = await probe_upload(upload)
        model = state.profile.caps.default_model
        return Source((Segment(f"upload:{upload.filename}:{len(upload.data)}", seconds),), size, model, model)
    job = state.get_job(video_ref(body), caller.key)
    require_completed(state, job, "video")
    return Source(job.segments, job.size, job.model, job.base_model)


def _start(state: SimState, caller: Caller, kind: str, prompt: str, src: Source, segments: list[Segment]) -> Job:
    """A job continuing ``src``: its model and size, generating the last of ``segments``."""
    return start(
        state,
        caller,
        kind,
        prompt,
        model=src.model,
        base_model=src.base_model,
        size=src.size,
        segments=segments,
        gen_seconds=segments[-1].seconds,
    )


async def _build_extend(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(("video", "prompt", "seconds"))
    _require_video(body)
    prompt = prompt_of(body)
    lengths = tuple(str(s) for s in state.profile.caps.extension_seconds)
    seconds = int(choice(body, "seconds", lengths, None))
    src = await _source(state, caller, body)
    moderate(state.config.moderation_words, prompt)
    return _start(state, caller, "extend", prompt, src, [*src.segments, Segment(prompt, seconds)])


async def _build_edit(state: SimState, caller: Caller, body: Body) -> Job:
    body.only(("video", "prompt"))
    _require_video(body)
    prompt = prompt_of(body)
    src = await _source(state, caller, body)
    moderate(state.config.moderation_words, prompt)
    seconds = round(sum(s.seconds for s in src.segments))
    return _start(state, caller, "edit", prompt, src, [Segment(prompt, seconds)])


async def extend_video(request: Request) -> Response:
    return await generate(request, "extend", _build_extend, needs="extensions")


async def edit_video(request: Request) -> Response:
    return await generate(request, "edit", _build_edit, needs="edits")


ROUTES = [
    Route("/v1/videos/extensions", extend_video, methods=["POST"]),
    Route("/v1/videos/edits", edit_video, methods=["POST"]),
]
