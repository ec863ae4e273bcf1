"""Field checks any profile may use; each raises the engine's 400 naming the field."""

from __future__ import annotations

from gateway.simulator.bodies import Body
from gateway.simulator.errors import SimError, invalid_value, missing

MAX_PROMPT = 32000


def prompt_of(body: Body, param: str = "prompt", max_length: int = MAX_PROMPT) -> str:
    """A required string of 1 to ``max_length`` characters."""
    value = body.fields.get(param)
    if value is None:
        raise missing(param)
    if not isinstance(value, str):
        raise SimError(400, f"Invalid type for '{param}': expected a string.", param=param, code="invalid_type")
    if not 1 <= len(value) <= max_length:
        raise SimError(
            400,
            f"Invalid '{param}': string length must be between 1 and {max_length}, got {len(value)}.",
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


def integer(body: Body, param: str, default: int | None, low: int, high: int) -> int:
    """An integer (or a string of digits) from ``low`` to ``high``."""
    value = body.fields.get(param, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SimError(
            400,
            f"Invalid value for '{param}': {value!r}. Expected an integer from {low} to {high}.",
            param=param,
            code="invalid_value",
        )
    return value


def flagged(words: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` holds one of the moderation words (``--moderation-words``)."""
    lowered = text.lower()
    return any(word.lower() in lowered for word in words)
