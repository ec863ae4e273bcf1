"""Field checks shared by the OpenAI routes; each raises the real API's 400 error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.simulator.bodies import Body
from gateway.simulator.errors import SimError, invalid_value, missing, moderation_blocked
from gateway.simulator.profiles import Profile

MAX_PROMPT = 32000
REFERENCE_KEYS = ("image_url", "file_id")


@dataclass(frozen=True)
class CreateSpec:
    prompt: str
    model: str
    base_model: str
    size: str
    seconds: int


def prompt_of(body: Body, param: str = "prompt") -> str:
    value = body.fields.get(param)
    if value is None:
        raise missing(param)
    if not isinstance(value, str):
        raise SimError(400, f"Invalid type for '{param}': expected a string.", param=param, code="invalid_type")
    if not 1 <= len(value) <= MAX_PROMPT:
        raise SimError(
            400,
            f"Invalid '{param}': string length must be between 1 and {MAX_PROMPT}, got {len(value)}.",
            param=param,
            code="invalid_value",
        )
    return value


def choice(body: Body, param: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.fields.get(param, default)
    if value is None:
        raise missing(param)
    if not isinstance(value, str) or value not in allowed:
        raise invalid_value(param, value, allowed)
    return value


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


def create_spec(profile: Profile, body: Body) -> CreateSpec:
    prompt = prompt_of(body)
    model = body.fields.get("model", profile.default_model)
    base = profile.base_model(model) if isinstance(model, str) else None
    if base is None:
        raise invalid_value("model", model, tuple(profile.model_ids()))
    size = choice(body, "size", profile.models[base], profile.default_size)
    seconds = choice(body, "seconds", profile.seconds, profile.default_seconds)
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
        raise moderation_blocked()


def flagged(words: tuple[str, ...], text: str) -> bool:
    lowered = text.lower()
    return any(word.lower() in lowered for word in words)
