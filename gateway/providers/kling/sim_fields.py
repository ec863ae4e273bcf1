"""The simulated Kling's create-body checks: documented fields only, each with its documented JSON type.

Every refusal is HTTP 400 with code 1201 ("Invalid parameters ... see message"), naming the field. Kling's
types: ``duration`` is a **string** ("5", "10"; kling-v3 "3".."15"), ``mode`` "std"|"pro", ``aspect_ratio``
"16:9"|"9:16"|"1:1" (text2video only), ``cfg_scale`` a number in [0, 1], ``sound`` "on"|"off" (kling-v2-6 and
later; kling-v2-6 std is silent only), ``image``/``image_tail`` raw base64 (a ``data:`` prefix is refused) or a
URL, a jpg/png of at least 300 px a side and an aspect between 1:2.5 and 2.5:1. A field no page documents is
refused too (the simulator's strictness: a dialect sending anything undocumented fails here).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from gateway.core.capabilities import Capabilities
from gateway.providers.kling.sim_auth import kling_refusal
from gateway.providers.kling.table import ASPECTS, PRO, SINGLE_MODE, STD
from gateway.simulator.errors import SimError

MAX_TEXT = 2500
COMMON = (
    "model_name", "model", "prompt", "negative_prompt", "cfg_scale", "mode", "duration", "sound", "voice_list",
    "camera_control", "multi_shot", "shot_type", "multi_prompt", "watermark_info", "callback_url", "external_task_id",
)  # fmt: skip
FIELDS = {
    "text2video": (*COMMON, "aspect_ratio"),
    "image2video": (*COMMON, "image", "image_tail", "static_mask", "dynamic_masks", "element_list"),
}
TYPES: dict[str, type | tuple[type, ...]] = {
    "model_name": str, "model": str, "prompt": str, "negative_prompt": str, "mode": str, "duration": str,
    "sound": str, "aspect_ratio": str, "callback_url": str, "external_task_id": str, "shot_type": str,
    "image": str, "image_tail": str, "static_mask": str, "cfg_scale": (int, float), "multi_shot": bool,
    "voice_list": list, "multi_prompt": list, "dynamic_masks": list, "element_list": list,
    "camera_control": dict, "watermark_info": dict,
}  # fmt: skip
DEFAULT_MODEL = "kling-v1"  # Kling's default when model_name is absent (not simulated: refused as unknown)
SOUND_MODELS = ("kling-v2-6", "kling-v3")
MIN_SIDE, MAX_ASPECT = 300, 2.5
JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def invalid(message: str) -> SimError:
    return kling_refusal(400, 1201, message)


@dataclass(frozen=True)
class Ask:
    """A checked create: what the task will make."""

    model: str
    prompt: str
    size: str  # the frames it outputs, WIDTHxHEIGHT
    seconds: int
    external_task_id: str
    mode: str


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker in JPEG_FRAMES:
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def image_aspect(value: str, param: str) -> str:
    """The aspect ratio of the output an ``image`` makes ("16:9" for a URL: the simulator fetches nothing)."""
    if value.startswith(("http://", "https://")):
        return "16:9"
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("File is not in a valid base64 format") from None
    size = image_size(data)
    if size is None:
        raise invalid(f"{param} must be a jpg, jpeg or png image")
    width, height = size
    if min(width, height) < MIN_SIDE or max(width / height, height / width) > MAX_ASPECT:
        raise invalid(f"{param} must be at least {MIN_SIDE}px a side with an aspect ratio between 1:2.5 and 2.5:1")
    ratio = width / height
    return "16:9" if ratio > 1.2 else "9:16" if ratio < 1 / 1.2 else "1:1"


def _typed(fields: dict[str, Any], action: str) -> None:
    for name, value in fields.items():
        if name not in FIELDS[action]:
            raise invalid(f"Invalid parameter: {name}")
        kind = TYPES[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise invalid(f"{name} has an invalid type")


def _text(fields: dict[str, Any], name: str, required: bool) -> str:
    value = fields.get(name, "")
    if required and not value.strip():
        raise invalid(f"{name} can not be empty")
    if len(value) > MAX_TEXT:
        raise invalid(f"{name} must be at most {MAX_TEXT} characters")
    return str(value)


def _choice(fields: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = fields.get(name, default)
    if value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def check_create(fields: dict[str, Any], action: str, caps: Capabilities) -> tuple[Ask, str | None]:
    """(the ask, the image's aspect ratio for an image2video create) or Kling's 400."""
    _typed(fields, action)
    model = fields.get("model_name") or DEFAULT_MODEL
    if model not in caps.shapes:
        raise invalid(f"model_name {model} is not supported")
    prompt = _text(fields, "prompt", action == "text2video")
    _text(fields, "negative_prompt", False)
    if "cfg_scale" in fields and not 0 <= fields["cfg_scale"] <= 1:
        raise invalid("cfg_scale must be between 0 and 1")
    mode = _choice(fields, "mode", ("std", "pro"), "std")
    aspect = _choice(fields, "aspect_ratio", ("16:9", "9:16", "1:1"), "16:9")
    if action == "image2video":
        if not fields.get("image") and not fields.get("image_tail"):
            raise invalid("image can not be null")
        param = "image" if fields.get("image") else "image_tail"
        aspect = image_aspect(fields[param], param)
    sound = _choice(fields, "sound", ("on", "off"), "off")
    if sound == "on" and (model not in SOUND_MODELS or (model == "kling-v2-6" and mode == "std")):
        raise invalid(f"sound is not supported by {model} in {mode} mode")
    shapes = {s.size: s for s in caps.shapes[model]}
    rows = STD if mode == "std" else PRO
    if model in SINGLE_MODE:  # one resolution, whatever mode says
        rows = STD if STD[0] in shapes else PRO
    size = next(s for s in rows if ASPECTS[s][0] == aspect)
    shape = shapes.get(size)
    if shape is None:
        raise invalid(f"{model} does not support mode {mode}")
    durations = tuple(str(n) for n in shape.seconds)
    seconds = int(_choice(fields, "duration", durations, "5"))
    external = str(fields.get("external_task_id", ""))
    return Ask(model, prompt, size, seconds, external, mode), aspect if action == "image2video" else None
