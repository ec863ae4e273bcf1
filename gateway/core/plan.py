"""From a client's :class:`VideoRequest` to a :class:`Plan` the upstream can run.

This module validates what the client asked for against the detected
:class:`Capabilities`. Every change it makes is recorded in ``adapted``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.capabilities import Capabilities
from gateway.core.models import Segment, VideoRequest
from gateway.errors import invalid

MAX_PROMPT_CHARS = 32000


@dataclass
class Plan:
    model: str  # the model the client sees
    upstream_model: str  # the model sent upstream
    size: str
    seconds: int  # total seconds the client gets
    segments: list[Segment]
    adapted: list[str] = field(default_factory=list)
    price_per_second: float = 0.0

    @property
    def cost_usd(self) -> float:
        return round(self.seconds * self.price_per_second, 4)


def parse_seconds(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = float(str(value).strip())
    except ValueError:
        raise invalid(f"Invalid 'seconds': {value!r} is not a number of seconds.", "seconds") from None
    if number != int(number) or number <= 0:
        raise invalid(f"Invalid 'seconds': {value!r} must be a positive whole number of seconds.", "seconds")
    return int(number)


def plan_request(req: VideoRequest, caps: Capabilities) -> Plan:
    """A one-clip plan for what the upstream supports as-is."""
    prompt = req.prompt
    if not prompt or not prompt.strip():
        raise invalid("Invalid 'prompt': must be a non-empty string.", "prompt", "invalid_value")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid(
            f"Invalid 'prompt': {len(prompt)} characters exceeds the maximum of {MAX_PROMPT_CHARS}.", "prompt"
        )
    model = req.model or caps.default_model
    upstream_model = caps.base_model(model)
    if upstream_model is None:
        raise invalid(f"Invalid 'model': {model!r} is not available; available: {', '.join(caps.models)}.", "model")
    size = req.size or caps.default_size
    if size not in caps.models[upstream_model]:
        sizes = ", ".join(caps.models[upstream_model])
        raise invalid(f"Invalid 'size': {size!r} is not supported by {model}; supported: {sizes}.", "size")
    seconds = parse_seconds(req.seconds, caps.default_seconds)
    if seconds not in caps.clip_seconds:
        allowed = ", ".join(str(s) for s in caps.clip_seconds)
        raise invalid(f"Invalid 'seconds': {seconds} is not supported; supported: {allowed}.", "seconds")
    segment = Segment(index=0, seconds=seconds, prompt=prompt)
    return Plan(
        model=model,
        upstream_model=upstream_model,
        size=size,
        seconds=seconds,
        segments=[segment],
        price_per_second=caps.price_per_second(upstream_model, size),
    )
