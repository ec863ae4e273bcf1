"""The simulated MiniMax's create-body checks: each documented field with its JSON type, per model.

A refusal is MiniMax's envelope, HTTP 200 with ``base_resp.status_code`` 2013 ("invalid params, ..."). Types as
documented: ``duration`` a JSON integer (``"6"`` and ``6.0`` are refused) in the model's list for the resolution
(1080P: 6 only), ``resolution`` an uppercase string of the model's, ``prompt_optimizer`` / ``fast_pretreatment``
/ ``aigc_watermark`` booleans, ``first_frame_image`` / ``last_frame_image`` a public URL or
``data:image/{jpeg,png,webp};base64,...`` under 20 MB whose short side is over 300 px and whose aspect is within
2:5..5:2, ``callback_url`` an http(s) URL. A model that is image to video only (2.3-Fast), or a resolution that is
(512P), needs a first frame; only MiniMax-Hailuo-02 takes a last frame. A field the pages do not document is
refused too (the simulator's strictness: a dialect sending what MiniMax does not take fails loudly). The output
is 16:9 from text; from an image it keeps the image's orientation (portrait, square or landscape).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from gateway.providers.minimax_hailuo.table import FRAMES, IMAGE_BYTES, IMAGE_SHORT_SIDE, PROMPT_MAX, WIRE, WireModel
from gateway.simulator.errors import SimError

FIELDS = (
    "model", "prompt", "prompt_optimizer", "fast_pretreatment", "duration", "resolution", "callback_url",
    "aigc_watermark", "first_frame_image", "last_frame_image", "subject_reference",
)  # fmt: skip
_DATA_URI = re.compile(r"^data:(image/[a-z.+-]+);base64,(.*)$", re.DOTALL)
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/webp")
JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def invalid(message: str, code: int = 2013) -> SimError:
    """MiniMax's refusal: HTTP 200 with a non-zero ``base_resp.status_code`` (see sim_profile.error_response)."""
    return SimError(400, message, code=str(code))


@dataclass(frozen=True)
class Ask:
    """A checked create: what the task will make."""

    model: str
    wire: WireModel
    prompt: str
    size: str  # the frames it outputs, WIDTHxHEIGHT
    resolution: str
    seconds: int
    optimizer: bool
    image: bool  # started from a first frame
    callback_url: str | None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG from its header; ``None`` for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(data) and data[at] == 0xFF:
        if data[at + 1] in JPEG_FRAMES:
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def _typed(value: Any, kind: type, name: str) -> Any:
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = {str: "string", int: "integer", bool: "boolean"}
        raise invalid(f"invalid params, {name} must be a {names[kind]}")
    return value


def image_aspect(value: Any, name: str) -> float:
    """Width / height of the image (a URL the simulator does not fetch counts as 16:9)."""
    url = _typed(value, str, name)
    if url.startswith(("http://", "https://")):
        return 16 / 9
    match = _DATA_URI.match(url)
    if match is None or match.group(1) not in IMAGE_TYPES:
        raise invalid(f"invalid params, {name} must be a public URL or a JPG/PNG/WebP data URL")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"invalid params, {name} is not valid base64") from None
    if len(data) >= IMAGE_BYTES:
        raise invalid(f"invalid params, {name} must be smaller than 20MB")
    size = image_size(data)
    if size is None:
        return 16 / 9  # WebP: its header is not read here
    width, height = size
    if min(width, height) <= IMAGE_SHORT_SIDE or not 2 / 5 <= width / height <= 5 / 2:
        raise invalid(f"invalid params, {name}: the short side must exceed 300px and the aspect be within 2:5..5:2")
    return width / height


def output_size(resolution: str, aspect: float) -> str:
    landscape, portrait, square = FRAMES[resolution]
    return landscape if aspect > 1.05 else portrait if aspect < 0.95 else square


def _model(body: dict[str, Any]) -> tuple[str, WireModel]:
    model = _typed(body.get("model", ""), str, "model")
    if model not in WIRE:
        raise invalid(f"invalid params, model {model!r} is not supported" if model else "invalid params, model")
    return model, WIRE[model]


def _frames(body: dict[str, Any], model: str, wire: WireModel) -> float | None:
    """The first frame's aspect (None: text to video), after the frame fields' checks."""
    first = body.get("first_frame_image")
    aspect = image_aspect(first, "first_frame_image") if first is not None else None
    if "last_frame_image" in body:
        if not wire.last_frame:
            raise invalid(f"invalid params, {model} does not support last_frame_image")
        if aspect is None:
            raise invalid("invalid params, last_frame_image needs first_frame_image")
        image_aspect(body["last_frame_image"], "last_frame_image")
    if aspect is None and not wire.text:
        raise invalid(f"invalid params, {model} requires first_frame_image")
    return aspect


def check_create(body: dict[str, Any]) -> Ask:
    """The ask of a create body, or MiniMax's refusal."""
    unknown = [key for key in body if key not in FIELDS]
    if unknown:
        raise invalid(f"invalid params, unknown field {unknown[0]}")
    model, wire = _model(body)
    aspect = _frames(body, model, wire)
    prompt = _typed(body.get("prompt", ""), str, "prompt")
    if aspect is None and not prompt.strip():
        raise invalid("invalid params, prompt is required")
    if len(prompt) > PROMPT_MAX:
        raise invalid(f"invalid params, prompt must be at most {PROMPT_MAX} characters")
    for name in ("prompt_optimizer", "fast_pretreatment", "aigc_watermark"):
        if name in body:
            _typed(body[name], bool, name)
    resolution = _typed(body.get("resolution", "768P"), str, "resolution")
    if resolution not in wire.seconds or (resolution in wire.image_only and aspect is None):
        raise invalid(f"invalid params, resolution {resolution!r} is not supported by {model} here")
    seconds = _typed(body.get("duration", 6), int, "duration")
    if seconds not in wire.seconds[resolution]:
        raise invalid(f"invalid params, duration {seconds} is not supported at {resolution}")
    callback = body.get("callback_url")
    if callback is not None and not _typed(callback, str, "callback_url").startswith(("http://", "https://")):
        raise invalid("invalid params, callback_url must be an http(s) URL")
    size = output_size(resolution, aspect if aspect is not None else 16 / 9)
    return Ask(model, wire, prompt, size, resolution, seconds, bool(body.get("prompt_optimizer", True)),
               aspect is not None, callback)  # fmt: skip
