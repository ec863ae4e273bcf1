"""The simulated Dream Machine API's body validation for ``POST /generations/video`` (and the older
``POST /generations``), as Luma's OpenAPI ``GenerationRequest`` types it.

``model`` is the one required field ("ray-2" | "ray-flash-2" | "ray-1-6"); ``prompt``, ``aspect_ratio``,
``resolution``, ``duration`` ("5s" | "9s": STRINGS), ``callback_url`` strings; ``loop`` a boolean; ``keyframes``
``{"frame0"|"frame1": {"type": "image", "url"} | {"type": "generation", "id"}}`` (images are URLs only: "currently
this is the only way to pass an image"); ``concepts`` ``[{"key"}]``. A wrong type or value, or an unknown key, is
400 ``{"detail": "..."}`` (Luma does not enumerate its statuses; unknown keys are refused so a misspelt field
fails loudly). The schema lets ``resolution``/``duration`` be any string; only the documented values are taken
here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.providers.luma_dream_machine.table import ASPECT_RATIOS, DURATIONS, MODELS, RESOLUTIONS
from gateway.simulator.errors import SimError

KEYS = (
    "model", "generation_type", "prompt", "aspect_ratio", "loop", "keyframes", "resolution", "duration", "concepts",
    "callback_url",
)  # fmt: skip
MISSING: Any = object()
Lookup = Callable[[str], bool]  # generation id -> a completed generation of the caller


@dataclass
class Create:
    model: str
    prompt: str
    aspect_ratio: str
    resolution: str
    duration: str
    callback_url: str | None
    request: dict[str, Any]  # what the Generation echoes

    @property
    def seconds(self) -> int:
        return 5 if self.model == "ray-1-6" else int(self.duration.removesuffix("s"))


def _type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string")):
        if isinstance(value, kind):
            return name
    return "an array" if isinstance(value, list) else "null" if value is None else "an object"


def bad(where: str, expected: str, value: Any) -> SimError:
    return SimError(400, f"{where}: expected {expected}, got {_type(value)}")


def _string(fields: dict[str, Any], key: str, allowed: tuple[str, ...] | None, default: str | None) -> str | None:
    value = fields.get(key, MISSING)
    if value is MISSING or value is None:
        return default
    if not isinstance(value, str):
        raise bad(key, "a string", value)
    if allowed is not None and value not in allowed:
        raise SimError(400, f"{key}: must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _keyframes(value: Any, lookup: Lookup) -> None:
    if value is MISSING or value is None:
        return
    if not isinstance(value, dict):
        raise bad("keyframes", "an object", value)
    for name, frame in value.items():
        where = f"keyframes.{name}"
        if name not in ("frame0", "frame1"):
            raise SimError(400, f"keyframes: unknown field {name}")
        if not isinstance(frame, dict):
            raise bad(where, "an object", frame)
        kind = frame.get("type")
        if kind == "image":
            if set(frame) != {"type", "url"} or not isinstance(frame["url"], str):
                raise SimError(400, f"{where}: an image keyframe is {{type: image, url: string}}")
            if not frame["url"].lower().startswith(("https://", "http://")):
                raise SimError(400, f"{where}.url: must be an http(s) URL")
        elif kind == "generation":
            if set(frame) != {"type", "id"} or not isinstance(frame["id"], str):
                raise SimError(400, f"{where}: a generation keyframe is {{type: generation, id: string}}")
            if not lookup(frame["id"]):
                raise SimError(400, f"{where}.id: no completed generation {frame['id']}")
        else:
            raise SimError(400, f"{where}.type: must be one of image, generation")


def check_create(fields: dict[str, Any], lookup: Lookup) -> Create:
    """A video create's body; raises the :class:`SimError` the simulated API answers."""
    extra = [key for key in fields if key not in KEYS]
    if extra:
        raise SimError(400, f"body: unknown field{'s' if len(extra) > 1 else ''} {', '.join(extra)}")
    model = _string(fields, "model", MODELS, None)
    if model is None:
        raise SimError(400, "model: field required")
    _string(fields, "generation_type", ("video",), "video")
    prompt = _string(fields, "prompt", None, None)
    if not prompt:
        raise SimError(400, "prompt: a video generation needs a prompt")
    ratio = _string(fields, "aspect_ratio", ASPECT_RATIOS, "16:9")
    resolution = _string(fields, "resolution", RESOLUTIONS, "720p")
    duration = _string(fields, "duration", DURATIONS, "5s")
    loop = fields.get("loop")
    if loop is not None and not isinstance(loop, bool):
        raise bad("loop", "a boolean", loop)
    _keyframes(fields.get("keyframes", MISSING), lookup)
    concepts = fields.get("concepts")
    if concepts is not None and not (
        isinstance(concepts, list) and all(isinstance(c, dict) and isinstance(c.get("key"), str) for c in concepts)
    ):
        raise SimError(400, "concepts: expected an array of {key: string}")
    callback = _string(fields, "callback_url", None, None)
    if callback is not None and not callback.lower().startswith(("https://", "http://")):
        raise SimError(400, "callback_url: must be an http(s) URL")
    assert ratio is not None and resolution is not None and duration is not None
    echo = {"generation_type": "video", **fields, "aspect_ratio": ratio, "loop": bool(loop)}
    echo.update(resolution=resolution, duration=duration)
    return Create(model, prompt, ratio, resolution, duration, callback, echo)
