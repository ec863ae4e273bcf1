"""From a client's :class:`VideoRequest` to a :class:`Plan` the detected upstream can run.

Rules (see ``translate.py``): the model is kept (a substitute upstream model, or an upgrade allowed by
``allow_model_upgrade``, is reported); a size becomes the model's supported size with the same
orientation and the closest area; a duration the upstream offers is used as is, a shorter odd one is
rounded up to the next clip length and the result trimmed back, a longer one is split into segments
(create + extensions where the upstream extends videos, else a chain of creates stitched by the
gateway) and trimmed back when the lengths cannot add up exactly; ``style_preset`` and
``negative_prompt`` become prompt clauses; ``output_format: webm`` is transcoded at the end. Every
change is one entry of ``Plan.adapted``, e.g. ``seconds=30->12+12+8(stitched,trimmed to 30)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from gateway.core.capabilities import Capabilities
from gateway.core.model_list import allows
from gateway.core.models import Segment, VideoRequest
from gateway.core.styles import StyleBook
from gateway.core.translate import (
    avoid_clause,
    compose_prompt,
    continuation_clause,
    nearest_size,
    param_name,
    parse_seconds,
    parse_size,
    round_up,
    split_seconds,
    style_clause,
    upgrade_model,
)
from gateway.errors import ApiError, invalid

MAX_PROMPT_CHARS = 32000
OUTPUT_FORMATS = ("mp4", "webm")
REFERENCE_KINDS = {"path": "file", "image_url": "image_url", "file_id": "file_id"}
# what a plan keeps on its job (Job.requested) for the jobs layer; a job planned again drops them all first
PLAN_EXTRAS = ("trim_seconds", "output_format", "continuity", "native", "upstream_size", "scale_to")
IMAGE_EXTRAS = ("last_frame", "reference_images")  # image fields of our API a provider may take natively


class SupportsBool(Protocol):
    def __bool__(self) -> bool: ...


@dataclass
class PlanOptions:
    max_seconds: int = 120
    max_prompt_chars: int = MAX_PROMPT_CHARS
    allow_model_upgrade: bool = False
    webm_enabled: SupportsBool = True  # a bool, or media.transcode.WebmSupport (asked when first needed)
    styles: StyleBook = field(default_factory=StyleBook)


@dataclass
class Plan:
    model: str  # the model the client sees
    upstream_model: str  # the model sent upstream
    size: str
    seconds: int  # total seconds the client gets
    segments: list[Segment]
    adapted: list[str] = field(default_factory=list)
    price_per_second: float = 0.0
    strategy: str = "single"  # single | chain | extend
    extras: dict[str, Any] = field(default_factory=dict)  # kept on the job: trim_seconds, continuity, output_format

    @property
    def generated_seconds(self) -> int:
        return sum(s.seconds for s in self.segments)

    @property
    def cost_usd(self) -> float:
        """What the upstream charges: every generated second, including any the stitcher trims away."""
        return round(self.generated_seconds * self.price_per_second, 4)


def _model(req: VideoRequest, caps: Capabilities) -> tuple[str, str, list[str]]:
    model = req.model or caps.default_model
    upstream_model = caps.base_model(model)
    if upstream_model is None:
        raise invalid(
            f"Invalid 'model': {model!r} is not available; available: {', '.join(caps.known_models())}.",
            "model",
            "model_not_found",
        )
    adapted = [f"model={model}->{upstream_model}"] if model in caps.model_substitutes else []
    return model, upstream_model, adapted


def _size(
    req: VideoRequest, caps: Capabilities, model: str, upstream_model: str, options: PlanOptions, allowed: list[str]
) -> tuple[str, str, str, list[str]]:
    """(size the client gets, size the upstream makes, upstream model, adaptations); the model changes only by an
    allowed upgrade. A provider that scales (``scales_output``) makes the nearest size it can and the gateway scales
    the video to the one asked; the others hand the nearest size over as it is (and say so)."""
    sizes = caps.models[upstream_model]
    if not req.size:
        size = caps.default_size if caps.default_size in sizes else sizes[0]
        return size, size, upstream_model, []
    param = param_name("size", req.dialect)
    width, height = parse_size(req.size, param)
    asked = f"{width}x{height}"
    adapted: list[str] = []
    if options.allow_model_upgrade:
        better = upgrade_model(asked, upstream_model, caps.models, allowed)
        if better is not None:
            adapted.append(f"model={model}->{better}")
            upstream_model = better
    made = nearest_size(width, height, caps.models[upstream_model], shape_first=caps.scales_output)
    shape = caps.shape(upstream_model, made)
    label = shape.label if shape is not None and shape.label else ""
    scaled = caps.scales_output and made != asked
    if scaled and (width % 2 or height % 2):  # H.264 frames have even sides
        asked = f"{width + width % 2}x{height + height % 2}"
    if scaled:
        adapted.append(
            f"{param}={req.size}->{label or made}({made},scaled to {asked})"
            if label
            else f"{param}={req.size}->{made}(scaled to {asked})"
        )
        return asked, made, upstream_model, adapted
    if label:
        adapted.append(f"{param}={req.size}->{label}" + (f"({made})" if made != asked else ""))
    elif made != asked:
        adapted.append(f"{param}={req.size}->{made}")
    return made, made, upstream_model, adapted


def _prompt(
    req: VideoRequest, caps: Capabilities, options: PlanOptions, model: str
) -> tuple[str, list[str], dict[str, Any]]:
    """The prompt sent upstream, with style and negative clauses where the upstream has no such field, and the
    fields it takes as its own (``native``: sent in its own terms by its dialect)."""
    clauses: list[str] = []
    adapted: list[str] = []
    native: dict[str, Any] = {}
    own = caps.native(model)
    if req.style_preset is not None:
        description = options.styles.get(req.style_preset)
        if description is None:
            known = ", ".join(options.styles.names())
            message = f"Invalid 'style_preset': {req.style_preset!r} is not a known preset; known: {known}."
            raise invalid(message, "style_preset")
        if "style_preset" in own:
            native["style_preset"] = req.style_preset
        else:
            clauses.append(style_clause(description))
            adapted.append("style_preset->prompt")
    if req.negative_prompt is not None and req.negative_prompt.strip():
        if "negative_prompt" in own:
            native["negative_prompt"] = req.negative_prompt
            if caps.shapes:  # a live provider: say where it went
                adapted.append("negative_prompt->native")
        else:
            clauses.append(avoid_clause(req.negative_prompt))
            adapted.append("negative_prompt->prompt")
    if req.seed is not None:
        if "seed" in own:
            native["seed"] = req.seed
        else:
            adapted.append(f"seed={req.seed}->dropped(not offered by {caps.profile})")
    for name in IMAGE_EXTRAS:
        value = getattr(req, name)
        if not value:
            continue
        if name not in own:
            raise ApiError(
                400,
                f"The upstream behind this gateway ({caps.profile}, {model}) does not take '{name}'.",
                param=name,
                code="unsupported_by_upstream",
            )
        native[name] = [asdict(ref) for ref in value] if isinstance(value, list) else asdict(value)
    return compose_prompt(req.prompt, *clauses), adapted, native


def _output(req: VideoRequest, options: PlanOptions) -> tuple[str, list[str]]:
    fmt = (req.output_format or "mp4").strip().lower()
    if fmt not in OUTPUT_FORMATS:
        raise invalid(f"Invalid 'output_format': {req.output_format!r}; supported: mp4, webm.", "output_format")
    if fmt == "webm" and not options.webm_enabled:
        raise invalid(
            "Invalid 'output_format': webm is disabled on this gateway; ask for mp4.",
            "output_format",
            "unsupported_output_format",
        )
    return fmt, ["output_format=webm(transcoded from mp4)"] if fmt == "webm" else []


def _check_reference(req: VideoRequest, caps: Capabilities) -> None:
    ref = req.input_reference
    if ref is None:
        return
    kind = next((kind for attr, kind in REFERENCE_KINDS.items() if getattr(ref, attr)), "file")
    if kind not in caps.reference_kinds:
        raise ApiError(
            400,
            f"The upstream behind this gateway ({caps.profile}) does not accept an input_reference given as {kind}.",
            param="input_reference",
            code="unsupported_by_upstream",
        )


def _check_prompt_length(segments: list[Segment], caps: Capabilities) -> None:
    """Every segment's prompt (continuation clauses included) within what the upstream takes: refused before any
    segment is paid for, not when a later one is sent."""
    longest = max(len(seg.prompt) for seg in segments)
    if caps.max_prompt_chars is not None and longest > caps.max_prompt_chars:
        raise invalid(
            f"Invalid 'prompt': {longest} characters (with the gateway's clauses) exceeds the "
            f"{caps.max_prompt_chars} that {caps.profile} takes in one request.",
            "prompt",
        )


def _segments(
    seconds: int, prompt: str, caps: Capabilities, clips: tuple[int, ...], param: str
) -> tuple[list[Segment], str, list[str], int | None]:
    """(segments, strategy, adaptations, trim_seconds); ``clips``: the lengths one create may take here."""
    if seconds in clips:
        return [Segment(index=0, seconds=seconds, prompt=prompt)], "single", [], None
    clip = round_up(seconds, clips)
    if clip is not None:
        segment = Segment(index=0, seconds=clip, prompt=prompt)
        return [segment], "single", [f"{param}={seconds}->{clip}(trimmed to {seconds})"], seconds
    extend = caps.has("extensions") and bool(caps.extension_seconds)
    lengths = split_seconds(seconds, clips, caps.extension_seconds if extend else clips)
    strategy, kind = ("extend", "extend") if extend else ("chain", "create")
    segments = [Segment(index=0, seconds=lengths[0], prompt=prompt)]
    for index, length in enumerate(lengths[1:], start=1):
        text = compose_prompt(prompt, continuation_clause(index + 1, len(lengths)))
        segments.append(Segment(index=index, seconds=length, prompt=text, kind=kind))
    total = sum(lengths)
    how = "extended" if extend else "stitched"
    trim = seconds if total != seconds else None
    note = f"{how},trimmed to {seconds}" if trim else how
    return segments, strategy, [f"{param}={seconds}->{'+'.join(map(str, lengths))}({note})"], trim


def plan_request(
    req: VideoRequest,
    caps: Capabilities,
    options: PlanOptions | None = None,
    *,
    allowed_models: list[str] | None = None,
) -> Plan:
    """Validate ``req`` against ``caps`` and translate it; raises an :class:`ApiError` naming the field."""
    options = options or PlanOptions()
    if not req.prompt or not req.prompt.strip():
        raise invalid("Invalid 'prompt': must be a non-empty string.", "prompt", "invalid_value")
    model, upstream_model, adapted = _model(req, caps)
    check_allowed(caps, allowed_models, model)
    allowed = [
        m for m in caps.models if allows(caps, allowed_models, m) and (m not in caps.image_only or req.input_reference)
    ]
    base = upstream_model
    size, made, upstream_model, size_notes = _size(req, caps, model, upstream_model, options, allowed)
    if upstream_model != base:  # an upgrade the operator allowed: the client sees the model it got
        model = upstream_model
    _check_reference(req, caps)
    seconds_param = param_name("seconds", req.dialect)
    seconds = parse_seconds(req.seconds, caps.default_seconds, options.max_seconds, seconds_param)
    prompt, prompt_notes, native = _prompt(req, caps, options, upstream_model)
    if len(prompt) > options.max_prompt_chars:
        raise invalid(
            f"Invalid 'prompt': {len(prompt)} characters (with the gateway's style and avoid clauses) exceeds "
            f"the maximum of {options.max_prompt_chars}.",
            "prompt",
        )
    if upstream_model in caps.image_only and req.input_reference is None:
        raise ApiError(
            400,
            f"The model {upstream_model} ({caps.profile}) makes videos from an image only; send input_reference.",
            param="input_reference",
            code="unsupported_by_upstream",
        )
    fmt, format_notes = _output(req, options)
    clips = caps.clips(upstream_model, made)
    segments, strategy, seconds_notes, trim = _segments(seconds, prompt, caps, clips, seconds_param)
    _check_prompt_length(segments, caps)
    extras: dict[str, Any] = {}
    if made != size:  # the upstream makes another size; the gateway scales its video to the one asked
        extras["upstream_size"] = made
        extras["scale_to"] = size
    if trim is not None:
        extras["trim_seconds"] = trim
    if fmt != "mp4":
        extras["output_format"] = fmt
    if strategy == "chain" and "file" in caps.reference_kinds:
        extras["continuity"] = "last_frame"
    if native:
        extras["native"] = native
    return Plan(
        model=model,
        upstream_model=upstream_model,
        size=size,
        seconds=seconds,
        segments=segments,
        adapted=[*adapted, *size_notes, *seconds_notes, *prompt_notes, *format_notes],
        price_per_second=caps.price_per_second(upstream_model, made),
        strategy=strategy,
        extras=extras,
    )


def fits_elsewhere(error: ApiError) -> bool:
    """A refusal that says "not this upstream" rather than "not this request": another upstream may take it
    (a model the team may use only where it makes another provider model, too)."""
    return error.code in ("unsupported_by_upstream", "model_not_found", "model_not_allowed")


def check_allowed(caps: Capabilities, allowed_models: list[str] | tuple[str, ...] | None, model: str) -> None:
    """400 ``model_not_allowed`` unless a team allowed ``allowed_models`` may use ``model`` on this upstream."""
    if allowed_models is None or allows(caps, allowed_models, model):
        return
    base = caps.base_model(model)
    here = f" (on {caps.profile} it makes {base})" if base not in (None, model) else ""
    raise invalid(
        f"Invalid 'model': {model!r}{here} is not allowed for this team; allowed: {', '.join(allowed_models)}.",
        "model",
        "model_not_allowed",
    )


def adaptation_kind(note: str) -> str:
    """``seconds=30->12+12+8(...)`` -> ``seconds``; ``style_preset->prompt`` -> ``style_preset``."""
    return note.split("=", 1)[0].split("->", 1)[0].split("(", 1)[0]
