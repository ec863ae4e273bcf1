"""The simulated Luma API's body validation for ``POST /v1/generations`` with ``type: "video"``.

Types as the vendor SDK types them (``generation_create_params.py``, ``video_options_param.py``,
``image_ref_param.py``): ``prompt`` a string (1-6000 characters, GMI), ``model``/``type``/``aspect_ratio`` enum
strings, ``video`` an object whose ``resolution`` is "540p" | "720p" | "1080p" and ``duration`` "5s" | "10s" (a
STRING: ``5`` or ``"5"`` is refused), ``loop``/``hdr``/``exr_export`` booleans, frames ImageRefs (exactly one of
``url``, ``data`` + ``media_type``, ``generation_id``). A wrong type, value or an unknown key is a 400
``{"detail": "..."}`` ("invalid request parameters"); a refused combination or undecodable media a 422 ("parameter
combination rejected, or bad media data"): ``10s`` with a frame, ``loop`` or ``hdr``; ``loop`` with ``hdr``;
``hdr`` at 540p; ``exr_export`` without ``hdr`` (SDK docstrings and the resellers' constraints). Unknown keys are
refused so a misspelt field fails loudly (whether Luma ignores them is not documented).

Omitted values take the resellers' defaults: ``aspect_ratio`` 16:9, ``resolution`` 720p, ``duration`` 5s; an
omitted ``model`` is the SDK's default image model and ``type`` defaults to an image, neither of which is
simulated (only video generation is).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.providers.luma.table import ASPECT_RATIOS, DURATIONS, MAX_PROMPT, MODEL, RESOLUTIONS
from gateway.simulator.errors import SimError

MODELS = ("uni-1", "uni-1-max", MODEL)
TYPES = ("image", "image_edit", "video", "video_edit", "video_reframe")
SDK_RATIOS = ("3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4", "2:3", "9:16", "1:2", "1:3")
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")
TOP_KEYS = (
    "model", "type", "prompt", "aspect_ratio", "video", "source", "image_ref", "style", "output_format",
    "web_search", "user_id",
)  # fmt: skip
IMAGE_KEYS = ("source", "image_ref", "style", "output_format", "web_search")  # not for type "video"
VIDEO_KEYS = ("resolution", "duration", "start_frame", "end_frame", "loop", "hdr", "exr_export")
OTHER_VIDEO_KEYS = ("edit", "source_position", "keyframes", "keyframe_indexes")  # video_edit / video_reframe
MISSING: Any = object()
Lookup = Callable[[str], bool]  # generation id -> a completed video generation of the caller


@dataclass
class Create:
    prompt: str
    aspect_ratio: str
    resolution: str
    duration: str
    start_frame: dict[str, Any] | None
    end_frame: dict[str, Any] | None
    loop: bool
    hdr: bool

    @property
    def seconds(self) -> int:
        return int(self.duration.removesuffix("s"))


def json_type(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    for kind, name in ((bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string")):
        if isinstance(value, kind):
            return name
    return "an array" if isinstance(value, list) else "null" if value is None else "an object"


def bad(where: str, expected: str, value: Any) -> SimError:
    return SimError(400, f"{where}: expected {expected}, got {json_type(value)}")


def unknown_keys(where: str, fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = [key for key in fields if key not in allowed]
    if extra:
        raise SimError(400, f"{where}: unknown field{'s' if len(extra) > 1 else ''} {', '.join(extra)}")


def choice(where: str, value: Any, allowed: tuple[str, ...], default: str | None = None) -> str:
    if value is MISSING or (value is None and default is not None):
        if default is None:
            raise SimError(400, f"{where}: field required")
        return default
    if not isinstance(value, str):
        raise bad(where, "a string", value)
    if value not in allowed:
        raise SimError(400, f"{where}: must be one of {', '.join(allowed)} (got {value!r})")
    return value


def flag(where: str, value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if not isinstance(value, bool):
        raise bad(where, "a boolean", value)
    return value


def _image_data(where: str, ref: dict[str, Any]) -> None:
    data, media_type = ref["data"], ref.get("media_type", MISSING)
    if not isinstance(data, str):
        raise bad(f"{where}.data", "a string", data)
    if media_type is MISSING or media_type is None:
        raise SimError(400, f"{where}.media_type: required with data")
    choice(f"{where}.media_type", media_type, MEDIA_TYPES)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SimError(422, f"{where}.data: invalid base64 image data") from None
    png, jpeg = raw.startswith(b"\x89PNG"), raw.startswith(b"\xff\xd8\xff")
    webp = raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"
    if not (png or jpeg or webp):
        raise SimError(422, f"{where}.data: could not decode the image")


def image_ref(where: str, value: Any, lookup: Lookup) -> dict[str, Any] | None:
    """An ImageRef (or null); raises the 400/422 Luma answers for a bad one."""
    if value is MISSING or value is None:
        return None
    if not isinstance(value, dict):
        raise bad(where, "an object", value)
    unknown_keys(where, value, ("url", "data", "media_type", "generation_id"))
    forms = [key for key in ("url", "data", "generation_id") if key in value]
    if len(forms) != 1:
        raise SimError(400, f"{where}: exactly one of url, data, generation_id is required")
    form = forms[0]
    if form == "data":
        _image_data(where, value)
    elif form == "url":
        url = value["url"]
        if not isinstance(url, str):
            raise bad(f"{where}.url", "a string", url)
        if not url.lower().startswith(("https://", "http://")):
            raise SimError(400, f"{where}.url: must be an http(s) URL")
        if "media_type" in value and not isinstance(value["media_type"], str):
            raise bad(f"{where}.media_type", "a string", value["media_type"])
    else:
        ident = value["generation_id"]
        if not isinstance(ident, str):
            raise bad(f"{where}.generation_id", "a string", ident)
        if not lookup(ident):
            raise SimError(422, f"{where}.generation_id: no completed generation {ident} of this client")
    return value


def _combinations(create: Create, exr: bool) -> None:
    frames = create.start_frame is not None or create.end_frame is not None
    if create.duration == "10s" and (frames or create.loop or create.hdr):
        raise SimError(422, "duration=10s is text to video only: not with start_frame, end_frame, loop or hdr")
    if create.loop and create.hdr:
        raise SimError(422, "loop is not supported with hdr=true")
    if create.hdr and create.resolution == "540p":
        raise SimError(422, "hdr is not available at 540p")
    if exr and not create.hdr:
        raise SimError(422, "exr_export requires hdr=true")


def check_create(fields: dict[str, Any], lookup: Lookup) -> Create:
    """A video create's body; raises the :class:`SimError` Luma answers (400 or 422, ``detail``)."""
    unknown_keys("body", fields, TOP_KEYS)
    prompt = fields.get("prompt", MISSING)
    if prompt is MISSING:
        raise SimError(400, "prompt: field required")
    if not isinstance(prompt, str):
        raise bad("prompt", "a string", prompt)
    if not 1 <= len(prompt) <= MAX_PROMPT:
        raise SimError(400, f"prompt: must be 1 to {MAX_PROMPT} characters (got {len(prompt)})")
    model = choice("model", fields.get("model", MISSING), MODELS, "uni-1")
    kind = choice("type", fields.get("type", MISSING), TYPES, "image")
    if kind != "video":
        raise SimError(400, f"type: only 'video' is simulated here (got {kind!r})")
    if model != MODEL:
        raise SimError(400, f"model: {model} does not make videos; use {MODEL}")
    for key in IMAGE_KEYS:
        if fields.get(key) is not None:
            raise SimError(400, f"{key}: not valid for type=video")
    user = fields.get("user_id")
    if user is not None and not isinstance(user, str):
        raise bad("user_id", "a string", user)
    ratio = choice("aspect_ratio", fields.get("aspect_ratio", MISSING), SDK_RATIOS, "16:9")
    if ratio not in ASPECT_RATIOS:
        raise SimError(400, f"aspect_ratio: {ratio} is not offered for {MODEL} video ({', '.join(ASPECT_RATIOS)})")
    video = fields.get("video", MISSING)
    video = {} if video is MISSING or video is None else video
    if not isinstance(video, dict):
        raise bad("video", "an object", video)
    for key in OTHER_VIDEO_KEYS:
        if key in video:
            raise SimError(400, f"video.{key}: not valid for type=video")
    unknown_keys("video", video, VIDEO_KEYS)
    create = Create(
        prompt=prompt,
        aspect_ratio=ratio,
        resolution=choice("video.resolution", video.get("resolution", MISSING), RESOLUTIONS, "720p"),
        duration=choice("video.duration", video.get("duration", MISSING), DURATIONS, "5s"),
        start_frame=image_ref("video.start_frame", video.get("start_frame", MISSING), lookup),
        end_frame=image_ref("video.end_frame", video.get("end_frame", MISSING), lookup),
        loop=flag("video.loop", video.get("loop", MISSING)),
        hdr=flag("video.hdr", video.get("hdr", MISSING)),
    )
    _combinations(create, flag("video.exr_export", video.get("exr_export", MISSING)))
    return create
