"""The simulated Ark's create validation: top-level fields strictly checked, as the "new method" is.

A refusal is Ark's 400 ``{"error": {"code": "InvalidParameter", "message": "The parameter `duration` specified
in the request is not valid: ... Request id: ...", "param": "duration", "type": "BadRequest"}}`` (the message
form of live answers; the details after the colon are the simulator's). Wire types as the docs type them:
``duration``, ``frames``, ``seed``, ``execution_expires_after``, ``priority`` JSON integers (``"5"`` and ``5.0``
are refused), ``ratio`` / ``resolution`` / ``service_tier`` lowercase enum strings, ``camera_fixed`` /
``watermark`` / ``generate_audio`` / ``return_last_frame`` / ``draft`` booleans; per model what
:data:`~gateway.providers.ark_seedance.table.WIRE` allows (``seed`` and ``camera_fixed`` are refused on the 2.0
series, which "temporarily does not support" them: whether the live API refuses or ignores them is unverified).
``content[]``: one text item and images in exactly one mode (a first frame; a first and a last frame, roles
required; reference images), each image an http(s) URL, an ``asset://`` id or a ``data:image/<lowercase
type>;base64,`` URI under 30 MB whose picture has sides of 300-6000 px and an aspect within 0.4-2.5.
An unknown top-level field is refused too (``InvalidParameter.UnsupportedParameter``): a choice of this
simulator, so a dialect that drifts from the documented names fails loudly.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
from dataclasses import dataclass
from typing import Any

from gateway.media.lazy import av
from gateway.providers.ark_seedance.table import RATIOS, WIRE, WireModel
from gateway.simulator.errors import SimError

MAX_IMAGE_BYTES = 30 * 1024 * 1024
MAX_SEED = 2**32 - 1
TOP_LEVEL = (
    "model", "content", "ratio", "resolution", "duration", "frames", "seed", "camera_fixed", "watermark",
    "generate_audio", "return_last_frame", "callback_url", "service_tier", "execution_expires_after", "draft",
    "priority", "safety_identifier", "tools",
)  # fmt: skip
IMAGE_TYPES = ("jpeg", "png", "webp", "bmp", "tiff", "gif")
NEW_IMAGE_TYPES = ("heic", "heif")  # 1.5 pro and the 2.0 series
_DATA_URI = re.compile(r"^data:image/([^;]+);base64,(.*)$", re.DOTALL)
MISSING: Any = object()


def invalid(param: str, detail: str, code: str = "InvalidParameter") -> SimError:
    message = f"The parameter `{param}` specified in the request is not valid: {detail}."
    return SimError(400, message, param=param, code=code, type="BadRequest")


def missing(param: str) -> SimError:
    message = f"The request failed because it is missing one or multiple required parameters: `{param}`."
    return SimError(400, message, param=param, code="MissingParameter", type="BadRequest")


def model_not_found(model: str) -> SimError:
    message = f"The model or endpoint {model} does not exist or you do not have access to it."
    return SimError(404, message, param="model", code="InvalidEndpointOrModel.NotFound", type="NotFound")


@dataclass
class Image:
    url: str
    role: str | None


@dataclass
class Create:
    model: str
    wire: WireModel
    prompt: str
    images: list[Image]
    ratio: str
    resolution: str
    duration: int
    seed: int
    generate_audio: bool
    callback_url: str | None
    service_tier: str
    expires_after: int


def _integer(fields: dict[str, Any], name: str, low: int, high: int, also: tuple[int, ...] = ()) -> int | None:
    value = fields.get(name, MISSING)
    if value is MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"expected an integer, got {type(value).__name__} {value!r}")
    if value not in also and not low <= value <= high:
        extra = f" or {', '.join(map(str, also))}" if also else ""
        raise invalid(name, f"{value} is out of range [{low}, {high}]{extra}")
    return value


def _boolean(fields: dict[str, Any], name: str) -> bool | None:
    value = fields.get(name, MISSING)
    if value is MISSING:
        return None
    if not isinstance(value, bool):
        raise invalid(name, f"expected a boolean, got {type(value).__name__} {value!r}")
    return value


def _choice(fields: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = fields.get(name, MISSING)
    if value is MISSING:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise invalid(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _not_for(fields: dict[str, Any], name: str, model: str) -> None:
    if name in fields:
        message = f"The parameter `{name}` specified in the request is not supported by the model {model}."
        raise SimError(400, message, param=name, code="InvalidParameter.UnsupportedParameter", type="BadRequest")


def image_sides(data: bytes) -> tuple[int, int] | None:
    """(width, height) of the picture in ``data``; None when it cannot be decoded."""
    try:
        with av.open(io.BytesIO(data)) as container:
            frame = next(container.decode(video=0))
            return frame.width, frame.height
    except (av.FFmpegError, StopIteration, ValueError, OSError):
        return None


def decoded_image(url: str) -> bytes | None:
    """The bytes of a ``data:image/...;base64,`` URI (None for a URL, or a URI that is not valid)."""
    match = _DATA_URI.match(url)
    try:
        return base64.b64decode(match.group(2), validate=True) if match else None
    except (binascii.Error, ValueError):
        return None


def _data_uri(param: str, value: str, wire: WireModel) -> None:
    match = _DATA_URI.match(value)
    if match is None:
        raise invalid(param, "a data URI must be data:image/<format>;base64,<data>")
    kind = match.group(1)
    allowed = IMAGE_TYPES + (NEW_IMAGE_TYPES if wire.family == "2.0" else ())
    if kind not in allowed:  # the subtype in lowercase, one of the formats
        raise invalid(param, f"image format {kind!r} is not supported (use lowercase: {', '.join(allowed)})")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(param, "the base64 data is not valid") from None
    if len(data) >= MAX_IMAGE_BYTES:
        raise invalid(param, "the image must be smaller than 30 MB")
    sides = image_sides(data)
    if sides is None:
        raise invalid(param, "the image could not be decoded")
    width, height = sides
    if not (300 <= width <= 6000 and 300 <= height <= 6000) or not 0.4 <= width / height <= 2.5:
        raise invalid(param, f"the image is {width}x{height}; sides must be 300-6000 px, aspect 0.4-2.5")


def _image(index: int, item: dict[str, Any], wire: WireModel) -> Image:
    param = f"content[{index}].image_url"
    holder = item.get("image_url")
    url = holder.get("url") if isinstance(holder, dict) else None
    if not isinstance(url, str) or not url:
        raise invalid(param, "image_url.url must be a non-empty string")
    if url.startswith("data:"):
        _data_uri(param, url, wire)
    elif not url.startswith(("https://", "http://", "asset://")):
        raise invalid(param, "the image must be an http(s) URL, an asset:// id or a base64 data URI")
    role = item.get("role", MISSING)
    if role is not MISSING and role not in ("first_frame", "last_frame", "reference_image"):
        raise invalid(f"content[{index}].role", f"{role!r} is not one of first_frame, last_frame, reference_image")
    return Image(url, None if role is MISSING else str(role))


def _content(fields: dict[str, Any], wire: WireModel, model: str) -> tuple[str, list[Image]]:
    content = fields.get("content", MISSING)
    if content is MISSING:
        raise missing("content")
    if not isinstance(content, list) or not content:
        raise invalid("content", "expected a non-empty array of content items")
    texts: list[str] = []
    images: list[Image] = []
    for index, item in enumerate(content):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text":
            text = item.get("text")
            if not isinstance(text, str):
                raise invalid(f"content[{index}].text", "expected a string")
            texts.append(text)
        elif kind == "image_url":
            images.append(_image(index, item, wire))
        elif kind in ("video_url", "audio_url", "draft_task"):
            raise invalid(f"content[{index}].type", f"{kind} is not supported by this simulator")
        else:
            raise invalid(f"content[{index}].type", f"{kind!r} is not one of text, image_url, video_url, audio_url")
    if len(texts) > 1:
        raise invalid("content", "at most one text item")
    _image_mode(images, wire, model)
    if not texts and not images:
        raise invalid("content", "a text prompt or an image is required")
    return (texts[0] if texts else ""), images


def _image_mode(images: list[Image], wire: WireModel, model: str) -> None:
    """One mode only: a first frame; a first and a last frame (roles required); reference images."""
    roles = [image.role for image in images]
    if not images or roles in ([None], ["first_frame"]):
        return
    if sorted(r or "" for r in roles) == ["first_frame", "last_frame"]:
        if not wire.first_last:
            raise invalid("content", f"the model {model} does not support a last frame image")
        return
    if roles and all(r == "reference_image" for r in roles):
        if not 1 <= len(roles) <= wire.reference_images:
            raise invalid("content", f"the model {model} does not support {len(roles)} reference images")
        return
    raise invalid("content", "first frame, first and last frame, and reference images cannot be mixed")


def _model(fields: dict[str, Any]) -> tuple[str, WireModel]:
    model = fields.get("model", MISSING)
    if model is MISSING:
        raise missing("model")
    if not isinstance(model, str) or model not in WIRE:
        raise model_not_found(str(model))
    return model, WIRE[model]


def check_create(fields: dict[str, Any]) -> Create:
    """A create body as Ark validates it; raises the refusal (a :class:`SimError` in Ark's codes)."""
    for name in fields:
        if name not in TOP_LEVEL:
            message = f"The parameter `{name}` specified in the request is not supported."
            raise SimError(400, message, param=name, code="InvalidParameter.UnsupportedParameter", type="BadRequest")
    model, wire = _model(fields)
    prompt, images = _content(fields, wire, model)
    ratios = RATIOS + (("adaptive",) if wire.adaptive_text or images else ())
    ratio = _choice(fields, "ratio", ratios) or ("adaptive" if wire.adaptive_text or images else "16:9")
    resolution = _choice(fields, "resolution", wire.resolutions) or wire.default_resolution
    low, high = wire.durations
    duration = _integer(fields, "duration", low, high, (-1,) if wire.auto_duration else ())
    if "frames" in fields:
        if not wire.frames:
            _not_for(fields, "frames", model)
        frames = _integer(fields, "frames", 29, 289)
        if frames is not None and (frames - 25) % 4:
            raise invalid("frames", f"{frames} is not of the form 25 + 4n")
        duration = round((frames or 0) / 24)  # frames wins over duration
    for name, offered in (("seed", wire.seed), ("camera_fixed", wire.camera_fixed), ("draft", wire.draft)):
        if not offered:
            _not_for(fields, name, model)
    if not wire.audio:
        _not_for(fields, "generate_audio", model)
    seed = _integer(fields, "seed", -1, MAX_SEED)
    for name in ("camera_fixed", "watermark", "return_last_frame", "draft"):
        _boolean(fields, name)
    audio = _boolean(fields, "generate_audio")
    tier = _choice(fields, "service_tier", ("default", "flex") if wire.flex else ("default",)) or "default"
    expires = _integer(fields, "execution_expires_after", 3600, 259200) or 172800
    _integer(fields, "priority", 0, 9)
    callback = fields.get("callback_url")
    if callback is not None and (not isinstance(callback, str) or not callback.startswith(("http://", "https://"))):
        raise invalid("callback_url", "expected an http(s) URL string")
    identifier = fields.get("safety_identifier")
    if identifier is not None and (not isinstance(identifier, str) or len(identifier) > 64):
        raise invalid("safety_identifier", "expected a string of at most 64 characters")
    return Create(
        model=model,
        wire=wire,
        prompt=prompt,
        images=images,
        ratio=ratio,
        resolution=resolution,
        duration=duration if duration is not None and duration > 0 else 5,  # -1: the model picks (5 here)
        seed=seed if seed is not None and seed >= 0 else secrets.randbelow(MAX_SEED),
        generate_audio=wire.audio and audio is not False,
        callback_url=callback,
        service_tier=tier,
        expires_after=expires,
    )
