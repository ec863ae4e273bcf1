"""Field checks of the simulated OpenAI Videos API; each raises the real API's 400."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.core.capabilities import Capabilities
from gateway.simulator.bodies import Body
from gateway.simulator.errors import SimError, invalid_value, missing
from gateway.simulator.fields import choice, flagged, prompt_of

REFERENCE_KEYS = ("image_url", "file_id")


@dataclass(frozen=True)
class CreateSpec:
    prompt: str
    model: str
    base_model: str
    size: str
    seconds: int


def model_names(caps: Capabilities) -> dict[str, str]:
    """Every model id the API lists and takes (models and dated snapshots) -> its model."""
    return {**{m: m for m in caps.models}, **caps.model_aliases}


def check_reference(body: Body) -> None:
    """``input_reference`` is a file part or an object with exactly one of image_url / file_id."""
    if "input_reference" in body.files:
        return
    ref = body.fields.get("input_reference")
    if ref is None:
        return
    if isinstance(ref, str) and ref:
        ref = {"image_url": ref}
    if not isinstance(ref, dict) or sum(1 for k in REFERENCE_KEYS if ref.get(k)) != 1 or set(ref) - set(REFERENCE_KEYS):
        raise SimError(
            400,
            "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
            param="input_reference",
            code="invalid_value",
        )


def create_spec(caps: Capabilities, body: Body) -> CreateSpec:
    prompt = prompt_of(body)
    names = model_names(caps)
    model = body.fields.get("model", caps.default_model)
    base = names.get(model) if isinstance(model, str) else None
    if base is None:
        raise invalid_value("model", model, tuple(names))
    size = choice(body, "size", caps.models[base], caps.default_size)
    seconds = choice(body, "seconds", tuple(str(s) for s in caps.clip_seconds), str(caps.default_seconds))
    check_reference(body)
    return CreateSpec(prompt=prompt, model=model, base_model=base, size=size, seconds=int(seconds))


def video_ref(body: Body, param: str = "video") -> str:
    """The id in ``{"id": ...}`` (JSON object, ``video[id]`` form field or JSON string)."""
    value: Any = body.fields.get(param)
    if value is None:
        raise missing(param)
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    raise SimError(
        400, f'Invalid \'{param}\': expected an object like {{"id": "video_123"}}.', param=param, code="invalid_value"
    )


def moderate(words: tuple[str, ...], *texts: str) -> None:
    if any(flagged(words, text) for text in texts):
        raise SimError(400, "Your request was blocked by our moderation system.", code="moderation_blocked")
