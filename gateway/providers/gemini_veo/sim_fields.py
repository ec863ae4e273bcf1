"""The simulated Veo's checks of a ``predictLongRunning`` body, each refused the Gemini API's way (400
``INVALID_ARGUMENT``).

Texts seen from the live API are used word for word: "The value type for durationSeconds needs to
be a number.", "The number value for durationSeconds is out of bound. Please provide a value between 4
and 8, inclusive." (also for 5 on Veo 3.1), "`inlineData` isn't supported by this model.", "allow_adult
for personGeneration is currently not supported.", Google's "Invalid JSON payload received. Unknown
name ..." for a field the request message does not have. The others follow those patterns (the docs
do not quote them). Extension (``instances[0].video``) is not simulated: it is refused like any field
this model would not take.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from gateway.core.capabilities import Capabilities
from gateway.providers.gemini_veo.table import (
    ASPECTS,
    DURATION_BOUNDS,
    MAX_REFERENCE_IMAGES,
    RULES,
    frames,
)
from gateway.simulator.errors import SimError

TOP_LEVEL = ("model", "instances", "parameters", "webhookConfig")
INSTANCE = ("prompt", "image", "lastFrame", "referenceImages")
PARAMETERS = (
    "aspectRatio", "resolution", "durationSeconds", "negativePrompt", "personGeneration", "sampleCount",
    "enhancePrompt",
)  # fmt: skip
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
DEFAULT_SECONDS, DEFAULT_ASPECT, DEFAULT_RESOLUTION = 8, "16:9", "720p"
# mode -> personGeneration values Veo 3.x takes (Veo 2 takes more)
PERSONS = {"text": ("allow_all",), "image": ("allow_adult",)}
PERSONS_VEO2 = {"text": ("allow_all", "allow_adult", "dont_allow"), "image": ("allow_adult", "dont_allow")}
BAD_IMAGE = "Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"


def bad(message: str) -> SimError:
    return SimError(400, message, code="INVALID_ARGUMENT")


def unsupported(name: str) -> SimError:
    return bad(f"`{name}` isn't supported by this model.")


def unknown_model(model: str) -> SimError:
    return SimError(
        404,
        f"models/{model} is not found for API version v1beta, or is not supported for predictLongRunning. "
        "Call ListModels to see the list of available models and their supported methods.",
        code="NOT_FOUND",
    )


@dataclass
class VeoAsk:
    model: str
    prompt: str
    size: str
    seconds: int
    samples: int


def _typed(value: Any, name: str, kind: type, word: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise bad(f"The value type for {name} needs to be a {word}.")
    return value


def _number(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"The value type for {name} needs to be a number.")
    if value != int(value):
        raise bad(f"The number value for {name} must be a whole number.")
    return int(value)


def _image(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise bad(f"The value type for {name} needs to be an object.")
    for key in value:
        if key not in ("bytesBase64Encoded", "mimeType"):
            raise unsupported(key)  # inlineData, gcsUri (Vertex only), fileUri
    data = value.get("bytesBase64Encoded")
    if not isinstance(data, str) or not data:
        raise bad(f"{name}.bytesBase64Encoded is required.")
    mime = value.get("mimeType")
    if mime not in IMAGE_TYPES:
        raise bad(f"{name}.mimeType {mime!r} is not supported; use image/png or image/jpeg.")
    try:
        if not base64.b64decode(data, validate=True):
            raise bad(BAD_IMAGE)
    except (binascii.Error, ValueError):
        raise bad(BAD_IMAGE) from None


def _references(value: Any, instance: dict[str, Any], model: str) -> None:
    if not RULES[model].reference_images:
        raise unsupported("referenceImages")
    if "image" in instance or "lastFrame" in instance:
        raise bad("referenceImages cannot be combined with image or lastFrame.")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_REFERENCE_IMAGES:
        raise bad(f"referenceImages takes 1 to {MAX_REFERENCE_IMAGES} images.")
    for index, item in enumerate(value):
        if not isinstance(item, dict) or str(item.get("referenceType", "")).lower() != "asset":
            raise bad(f"referenceImages[{index}].referenceType must be asset.")
        _image(item.get("image"), f"referenceImages[{index}].image")


def _instance(body: dict[str, Any], model: str) -> dict[str, Any]:
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise bad("instances must be a non-empty list.")
    instance = instances[0]
    if not isinstance(instance, dict):
        raise bad("The value type for instances[0] needs to be an object.")
    for key in instance:
        if key not in INSTANCE:
            raise unsupported(key)  # video (extension) included: not simulated
    if "image" in instance:
        _image(instance["image"], "image")
    if "lastFrame" in instance:
        if not RULES[model].last_frame:
            raise unsupported("lastFrame")
        if "image" not in instance:
            raise bad("lastFrame requires image (the first frame).")
        _image(instance["lastFrame"], "lastFrame")
    if "referenceImages" in instance:
        _references(instance["referenceImages"], instance, model)
    return instance


def _prompt(instance: dict[str, Any]) -> str:
    prompt = instance.get("prompt")
    if prompt is None and ("image" not in instance or "referenceImages" in instance):
        raise bad("prompt is required for this request.")
    return _typed(prompt or "", "prompt", str, "string")  # type: ignore[no-any-return]


def _persons(params: dict[str, Any], instance: dict[str, Any], model: str) -> None:
    if "personGeneration" not in params:
        return
    value = _typed(params["personGeneration"], "personGeneration", str, "string")
    mode = "text" if not any(k in instance for k in ("image", "referenceImages")) else "image"
    if value not in (PERSONS_VEO2 if not RULES[model].resolution else PERSONS)[mode]:
        raise bad(f"{value} for personGeneration is currently not supported.")


def _seconds(params: dict[str, Any], caps: Capabilities, model: str, allowed: tuple[int, ...], label: str) -> int:
    """Veo answers any length the model never takes (5 on Veo 3.1 too, live) with "out of bound"."""
    seconds = _number(params, "durationSeconds", DEFAULT_SECONDS)
    low, high = DURATION_BOUNDS.get(model, (4, 8))
    if seconds not in {n for shape in caps.shapes[model] for n in shape.seconds}:
        raise bad(
            f"The number value for durationSeconds is out of bound. Please provide a value between {low} and "
            f"{high}, inclusive."
        )
    if seconds not in allowed:
        lengths = ", ".join(map(str, allowed))
        raise bad(f"Unsupported durationSeconds {seconds} for {label}; supported values: {lengths}.")
    return seconds


def parse_create(caps: Capabilities, model: str, body: dict[str, Any]) -> VeoAsk:
    """Check a create as Veo does; what it asks for (frames, clip length, samples)."""
    if model not in caps.models:
        raise unknown_model(model)
    for key in body:
        if key not in TOP_LEVEL:
            raise bad(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
    instance = _instance(body, model)
    prompt = _prompt(instance)
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad("The value type for parameters needs to be an object.")
    for key in params:
        if key not in PARAMETERS:
            raise unsupported(key)  # seed, generateAudio, fps, storageUri...: Vertex only
    aspect = _typed(params.get("aspectRatio", DEFAULT_ASPECT), "aspectRatio", str, "string")
    if aspect not in ASPECTS:
        raise bad(f"Aspect ratio {aspect} is not supported. Supported values: {', '.join(ASPECTS)}.")
    if "resolution" in params and not RULES[model].resolution:
        raise unsupported("resolution")
    resolution = _typed(params.get("resolution", DEFAULT_RESOLUTION), "resolution", str, "string")
    size = frames(aspect, resolution) if resolution in ("720p", "1080p", "4k") else ""
    shape = caps.shape(model, size)
    if shape is None:
        raise bad(f"Resolution {resolution} is not supported by {model}.")
    seconds = _seconds(params, caps, model, shape.seconds, shape.label)
    if "referenceImages" in instance and seconds != 8:
        raise bad("durationSeconds must be 8 when using referenceImages.")
    if "negativePrompt" in params:
        _typed(params["negativePrompt"], "negativePrompt", str, "string")
    if "enhancePrompt" in params:
        _typed(params["enhancePrompt"], "enhancePrompt", bool, "boolean")
    _persons(params, instance, model)
    samples = _number(params, "sampleCount", 1)
    if not 1 <= samples <= RULES[model].samples:
        raise bad(f"sampleCount must be between 1 and {RULES[model].samples} for {model}.")
    return VeoAsk(model=model, prompt=prompt, size=size, seconds=seconds, samples=samples)
