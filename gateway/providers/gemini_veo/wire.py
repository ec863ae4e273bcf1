"""Veo's wire format on the Gemini API: the create body from a :class:`GenerationSpec`, an operation back.

Create (``POST {base}/models/{model}:predictLongRunning``, a ``PredictLongRunningRequest``)::

    {"instances": [{"prompt": "...", "image": {"bytesBase64Encoded": "...", "mimeType": "image/png"},
                    "lastFrame": {...}}],
     "parameters": {"aspectRatio": "16:9", "resolution": "720p", "durationSeconds": 8,
                    "negativePrompt": "...", "enhancePrompt": true}}

``durationSeconds`` is a JSON number (the live API refuses a string: "The value type for
durationSeconds needs to be a number."). Only what the Gemini API takes is sent: ``seed``,
``generateAudio``, ``fps``, ``storageUri`` and ``gcsUri`` images are Vertex-only there; Veo 2 takes
no ``resolution``. Docs: https://ai.google.dev/gemini-api/docs/video (parameters and examples),
the ``google-genai`` SDK's ``_GenerateVideosParameters_to_mldev`` (field placement).

An operation (``google.longrunning.Operation``) is ``{"name": "models/{model}/operations/{id}"}``
while it runs (``done`` absent or false, no progress), then ``done: true`` with either
``response.generateVideoResponse.generatedSamples[].video.uri``, the safety filter's
``raiMediaFilteredCount``/``raiMediaFilteredReasons`` and no samples, or ``error``.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from gateway.core.models import Reference
from gateway.providers.gemini_veo.errors import filtered, operation_error
from gateway.providers.gemini_veo.table import PROFILES, RULES
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo

CAPS = PROFILES["gemini-veo"]
# the frames of a shape -> (aspectRatio, resolution)
SHAPE_PARAMS: dict[str, tuple[str, str]] = {
    shape.size: tuple(shape.label.split("@", 1))  # type: ignore[misc]
    for shapes in CAPS.shapes.values()
    for shape in shapes
}
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _refuse(message: str, param: str, code: str = "invalid_value") -> UpstreamError:
    return UpstreamError(400, message, type="invalid_request_error", code=code, param=param)


def mime_type(data: bytes, declared: str | None) -> str:
    """The image's type from its first bytes (PNG, JPEG, WebP), else what the upload declared."""
    for magic, kind in IMAGE_TYPES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return declared or "image/png"


async def image(ref: Reference, param: str) -> dict[str, str]:
    """An uploaded image as Veo's ``Image`` (inline base64; the Gemini API fetches no URL)."""
    if not ref.path:
        raise _refuse(f"Veo takes '{param}' only as an uploaded file.", param, "unsupported_by_upstream")
    try:
        data = await asyncio.to_thread(Path(ref.path).read_bytes)
    except OSError:
        raise _refuse(f"The uploaded file {ref.filename or ''} is no longer available.", param) from None
    return {"bytesBase64Encoded": base64.b64encode(data).decode("ascii"), "mimeType": mime_type(data, ref.content_type)}


def _check(spec: GenerationSpec) -> tuple[str, str]:
    if spec.kind != "create":
        raise _refuse(f"Veo on the Gemini API has no {spec.kind} operation.", "video_id", "unsupported_by_upstream")
    shape = CAPS.shape(spec.model, spec.size)
    if spec.model not in RULES or shape is None:
        raise _refuse(f"Veo model {spec.model!r} does not make {spec.size}.", "size")
    if spec.seconds not in shape.seconds:
        allowed = ", ".join(map(str, shape.seconds))
        raise _refuse(f"Veo makes {shape.label} on {spec.model} in {allowed} s clips, not {spec.seconds}.", "seconds")
    if spec.last_frame is not None:
        if not RULES[spec.model].last_frame:
            raise _refuse(f"Veo model {spec.model} takes no last frame.", "last_frame", "unsupported_by_upstream")
        if spec.reference is None:
            raise _refuse("Veo takes a last frame only with a first frame (input_reference).", "last_frame")
    return SHAPE_PARAMS[spec.size]


async def create_body(spec: GenerationSpec) -> dict[str, Any]:
    """The ``PredictLongRunningRequest`` for one create; refuses (400) what Veo would not take."""
    aspect, resolution = _check(spec)
    instance: dict[str, Any] = {"prompt": spec.prompt}
    if spec.reference is not None:
        instance["image"] = await image(spec.reference, "input_reference")
    if spec.last_frame is not None:
        instance["lastFrame"] = await image(spec.last_frame, "last_frame")
    parameters: dict[str, Any] = {"aspectRatio": aspect}
    if RULES[spec.model].resolution:
        parameters["resolution"] = resolution
    parameters["durationSeconds"] = spec.seconds  # a JSON number
    if spec.negative_prompt:
        parameters["negativePrompt"] = spec.negative_prompt
    if spec.enhance_prompt:
        parameters["enhancePrompt"] = True
    return {"instances": [instance], "parameters": parameters}


def model_of(name: str) -> str | None:
    """``models/veo-3.1-generate-preview/operations/abc`` -> ``veo-3.1-generate-preview``."""
    parts = name.split("/")
    return parts[1] if len(parts) >= 4 and parts[0] == "models" and parts[2] == "operations" else None


def video_response(data: dict[str, Any]) -> dict[str, Any]:
    """``response.generateVideoResponse`` of an operation ({} when it has none)."""
    response = data.get("response")
    result = response.get("generateVideoResponse") if isinstance(response, dict) else None
    return result if isinstance(result, dict) else {}


def samples(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = video_response(data).get("generatedSamples")
    if not isinstance(found, list):
        return []
    return [s["video"] for s in found if isinstance(s, dict) and isinstance(s.get("video"), dict)]


def parse_operation(data: dict[str, Any]) -> UpstreamVideo:
    """An operation in the gateway's words; a video's handle (its file URI) in ``content_ids["uri"]``."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise UpstreamError(502, "Veo answered an operation without a name.", code="upstream_error")
    video = UpstreamVideo(id=name, status="in_progress", model=model_of(name))
    if data.get("done") is not True:
        return video
    videos = samples(data)
    result = video_response(data)
    if data.get("error") is not None:
        video.status, video.error = "failed", operation_error(data["error"])
    elif videos:
        video.status, video.progress = "completed", 100
        first = videos[0]
        if isinstance(first.get("uri"), str):
            video.content_ids["uri"] = first["uri"]
        elif isinstance(first.get("encodedVideo") or first.get("video"), str):
            video.content_ids["inline"] = "1"  # the bytes themselves: the dialect keeps them
    elif result.get("raiMediaFilteredCount") or result.get("raiMediaFilteredReasons"):
        video.status = "failed"
        video.error = filtered(result.get("raiMediaFilteredReasons"), result.get("raiMediaFilteredCount"))
    else:
        video.status = "failed"
        video.error = {"code": "video_generation_failed", "message": "Veo finished without a video or a reason."}
    return video


def inline_video(data: dict[str, Any]) -> bytes | None:
    """A sample's video given inline (``encodedVideo``, or the proto's ``video`` bytes) rather than as a URI."""
    videos = samples(data)
    raw = (videos[0].get("encodedVideo") or videos[0].get("video")) if videos else None
    try:
        return base64.b64decode(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
