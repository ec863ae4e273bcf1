"""The simulated DashScope's create-body checks: each model's documented fields, each with its JSON type.

A refusal is DashScope's flat envelope, HTTP 400 ``InvalidParameter`` naming the field (``parameters.duration``);
an unknown model is 404 ``ModelNotFound``. Types as documented: ``duration`` and ``seed`` JSON integers (``"5"``
is refused), ``prompt_extend`` / ``watermark`` / ``audio`` booleans, ``size`` a ``"W*H"`` string from the model's
list (legacy text models only), ``resolution`` ``"480P"``/``"720P"``/``"1080P"`` (uppercase) and ``ratio`` (wan2.7
only), ``img_url`` (legacy image models) or ``media`` (wan2.7 image model) a public URL, an ``oss://`` URL or
``data:{mime};base64,...`` of a JPEG/PNG/BMP/WebP within the model's side and byte limits. A field the model's
page does not document is refused too (the simulator's strictness: a dialect sending what a model does not
take fails loudly). A legacy model takes any integer ``duration`` at create and fails the task later with
"duration customization is not supported" (observed live on wan2.2); wan2.7 refuses one outside 2..15 at once.
A prompt longer than the model's limit is cut, as DashScope does.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from gateway.providers.dashscope_wan.table import ALL_TIERS, RATIOS, SEED_MAX, WAN27, WIRE, WireModel
from gateway.simulator.errors import SimError

MISSING: Any = object()  # a field that is not there (told apart from a JSON null)
NEGATIVE_MAX = 500
_DATA_URI = re.compile(r"^data:(image/[a-z.+-]+);base64,(.*)$", re.DOTALL)
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/bmp", "image/webp")
MEDIA_TYPES = ("first_frame", "last_frame", "driving_audio", "first_clip")
JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
BAD_DURATION = ("InvalidParameter", "duration customization is not supported")


def invalid(message: str, code: str = "InvalidParameter", status: int = 400) -> SimError:
    return SimError(status, message, code=code)


@dataclass(frozen=True)
class Ask:
    """A checked create: what the task will make."""

    model: str
    wire: WireModel
    prompt: str
    size: str  # the frames it outputs, WIDTHxHEIGHT
    tier: str
    seconds: int
    prompt_extend: bool
    late_failure: tuple[str, str] | None = None  # accepted now, failed while queued (a duration it cannot make)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, JPEG or BMP from its header; ``None`` for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"BM" and len(data) >= 26:
        return int.from_bytes(data[18:22], "little", signed=True), abs(
            int.from_bytes(data[22:26], "little", signed=True)
        )
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(data) and data[at] == 0xFF:
        if data[at + 1] in JPEG_FRAMES:
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def _typed(value: Any, kind: type, path: str) -> Any:
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array"}
        raise invalid(f"{path} has an invalid type: expected {names[kind]}.")
    return value


def image_aspect(url: Any, path: str, wire: WireModel) -> float:
    """Width / height of the image at ``url`` (a URL the simulator does not fetch counts as 16:9)."""
    url = _typed(url, str, path)
    if url.startswith(("http://", "https://", "oss://")):
        return 16 / 9
    match = _DATA_URI.match(url)
    if match is None:
        raise invalid(f"{path} must be a public URL, an oss:// URL or a data URI (data:{{mime}};base64,...).")
    if match.group(1) not in IMAGE_TYPES:
        raise invalid(f"{path}: the image format is not supported (JPEG, JPG, PNG, BMP, WEBP).")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{path} is not valid base64.") from None
    if len(data) > wire.image_bytes:
        raise invalid(f"{path}: the image exceeds {wire.image_bytes // (1024 * 1024)} MB.")
    size = image_size(data)
    if size is None:
        return 16 / 9  # WebP: its header is not read here
    low, high = wire.image_sides
    if not all(low <= side <= high for side in size):
        raise invalid(f"{path}: the image's width and height must be within [{low}, {high}] pixels.")
    return size[0] / size[1]


def _media(value: Any, wire: WireModel) -> float:
    items = _typed(value, list, "input.media")
    seen: list[str] = []
    aspect = None
    for index, item in enumerate(items):
        item = _typed(item, dict, f"input.media[{index}]")
        kind = _typed(item.get("type", ""), str, f"input.media[{index}].type")
        if kind not in MEDIA_TYPES or kind in seen:
            raise invalid(f"input.media[{index}].type must be one of {', '.join(MEDIA_TYPES)}, each at most once.")
        seen.append(kind)
        if kind == "first_frame":
            aspect = image_aspect(item.get("url", MISSING), f"input.media[{index}].url", wire)
        else:
            _typed(item.get("url", MISSING), str, f"input.media[{index}].url")
    if "first_frame" not in seen and "first_clip" not in seen:
        raise invalid("input.media must hold a first_frame or a first_clip.")
    return aspect or 16 / 9


def _allowed(model: str, wire: WireModel) -> tuple[set[str], set[str]]:
    """(input fields, parameters) the model's page documents."""
    given = {"prompt", "negative_prompt", "audio_url"}
    params = {"duration", "prompt_extend", "watermark", "seed"}
    if wire.image:
        given |= {"media"} if wire.protocol == WAN27 else {"img_url", "template"}
        params |= {"resolution"}
    else:
        params |= {"resolution", "ratio"} if wire.protocol == WAN27 else {"size"}
    if wire.protocol != WAN27 and not model.startswith("wan2.2"):
        params |= {"audio"} | ({"shot_type"} if model.startswith("wan2.6") else set())
    return given, params


def _nearest(tier: str, aspect: float) -> str:
    return min(ALL_TIERS[tier], key=lambda row: abs(_ratio(row[0]) - aspect))[0]


def _ratio(size: str) -> float:
    width, _, height = size.partition("x")
    return int(width) / int(height)


def _output(fields: dict[str, Any], params: dict[str, Any], model: str, wire: WireModel) -> tuple[str, str]:
    """(WIDTHxHEIGHT, tier) the task makes."""
    tiers = tuple(wire.prices)
    if not wire.image and wire.protocol != WAN27:
        sizes = {size.replace("x", "*"): (size, tier) for tier in tiers for size, _ in ALL_TIERS[tier]}
        value = _typed(params.get("size", "1920*1080" if "1080P" in tiers else "1280*720"), str, "parameters.size")
        if value not in sizes:
            raise invalid(f"size must be in {','.join(sizes)}")
        return sizes[value]
    tier = _typed(params.get("resolution", tiers[-1]), str, "parameters.resolution")
    if tier not in tiers:
        raise invalid(f"resolution must be one of {', '.join(tiers)} for {model}.")
    if wire.image:
        aspect = (
            _media(fields["media"], wire)
            if wire.protocol == WAN27
            else image_aspect(fields.get("img_url", ""), "input.img_url", wire)
        )
        return _nearest(tier, aspect), tier
    ratio = _typed(params.get("ratio", "16:9"), str, "parameters.ratio")
    if ratio not in RATIOS:
        raise invalid(f"ratio must be one of {', '.join(RATIOS)}.")
    return next(size for size, r in ALL_TIERS[tier] if r == ratio), tier


def check_create(body: dict[str, Any]) -> Ask:
    """The ask of a create body, or DashScope's refusal."""
    unknown = [key for key in body if key not in ("model", "input", "parameters")]
    if unknown:
        raise invalid(f"Unrecognized field: {unknown[0]}.")
    model = _typed(body.get("model", ""), str, "model")
    if not model:
        raise invalid("Required parameter(s) missing or invalid, please check the request parameters: model.")
    wire = WIRE.get(model)
    if wire is None:
        raise invalid(f"Model not found ({model}).", "ModelNotFound", 404)
    if "input" not in body:
        raise invalid("Field required: input")
    fields = _typed(body["input"], dict, "input")
    params = _typed(body.get("parameters", {}), dict, "parameters")
    given, documented = _allowed(model, wire)
    extra = [f"input.{k}" for k in fields if k not in given] + [
        f"parameters.{k}" for k in params if k not in documented
    ]
    if extra:
        raise invalid(f"{extra[0]} is not supported by {model}.")
    prompt = _typed(fields.get("prompt", ""), str, "input.prompt")
    if not wire.image and not prompt.strip():
        raise invalid("Field required: input.prompt")
    if len(_typed(fields.get("negative_prompt", ""), str, "input.negative_prompt")) > NEGATIVE_MAX:
        raise invalid(f"input.negative_prompt must be at most {NEGATIVE_MAX} characters.")
    if wire.image and not fields.get("media" if wire.protocol == WAN27 else "img_url"):
        raise invalid(f"Field required: input.{'media' if wire.protocol == WAN27 else 'img_url'}")
    for name in ("prompt_extend", "watermark", "audio"):
        if name in params:
            _typed(params[name], bool, f"parameters.{name}")
    if "seed" in params and not 0 <= _typed(params["seed"], int, "parameters.seed") <= SEED_MAX:
        raise invalid(f"parameters.seed must be within [0, {SEED_MAX}].")
    if "shot_type" in params and params["shot_type"] not in ("single", "multi"):
        raise invalid("parameters.shot_type must be single or multi.")
    size, tier = _output(fields, params, model, wire)
    seconds = _typed(params.get("duration", 5), int, "parameters.duration")
    late = None
    if seconds not in wire.durations:
        if wire.protocol == WAN27:
            raise invalid(f"parameters.duration must be within [{wire.durations[0]}, {wire.durations[-1]}].")
        late = BAD_DURATION  # accepted; the task fails (the live API's behaviour on wan2.2)
        seconds = wire.durations[0]
    return Ask(model, wire, prompt[: wire.prompt_max], size, tier, seconds, params.get("prompt_extend", True), late)
