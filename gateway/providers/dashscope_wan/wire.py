"""A :class:`GenerationSpec` as DashScope's create body, in the protocol the model's :data:`WIRE` row names.

Legacy text to video (vendor example)::

    {"model": "wan2.6-t2v", "input": {"prompt": ..., "negative_prompt": ...},
     "parameters": {"size": "1280*720", "duration": 5, "prompt_extend": false, "watermark": false, "seed": 12345}}

Legacy image to video: ``input.img_url`` (a public URL or ``data:{mime};base64,...``) and
``parameters.resolution`` ("720P") instead of ``size``. Wan 2.7: ``parameters.resolution`` and
``parameters.ratio`` ("16:9"); its image model takes ``input.media: [{"type": "first_frame", "url": ...}]``.
Durations and seeds are JSON integers, switches JSON booleans. ``prompt_extend`` (the provider's own prompt
rewriting, on by default) is sent ``false`` unless the client asked for an enhanced prompt: a Sora client's
prompt is meant as written. Nothing here sends a request; what DashScope would refuse for sure is refused
before anything is paid (a negative prompt over 500 characters, a seed out of range, an image too large).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from gateway.core.models import Reference
from gateway.providers.dashscope_wan.table import NEGATIVE_MAX, SEED_MAX, SIZES, WAN27, WIRE, WireModel, wire_size
from gateway.upstreams.base import GenerationSpec, UpstreamError

MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"BM", "image/bmp"),
)


def invalid(message: str, param: str) -> UpstreamError:
    return UpstreamError(400, message, type="invalid_request_error", code="invalid_value", param=param)


def image_type(data: bytes) -> str | None:
    """JPEG, PNG, BMP or WebP (what DashScope takes), from the first bytes; ``None`` for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def _data_uri(data: bytes, wire: WireModel) -> str:
    kind = image_type(data)
    if kind is None:
        raise invalid("DashScope takes a JPEG, PNG, BMP or WebP image.", "input_reference")
    if len(data) > wire.image_bytes:
        most = wire.image_bytes // (1024 * 1024)
        raise invalid(
            f"The image is too large for DashScope ({len(data)} bytes; at most {most} MB).", "input_reference"
        )
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


async def image_url(ref: Reference, wire: WireModel) -> str:
    """The first frame as DashScope fetches it: an HTTP(S) URL as it is, an upload as a base64 data URI."""
    if ref.path:
        try:
            data = await asyncio.to_thread(Path(str(ref.path)).read_bytes)
        except OSError:
            raise UpstreamError(400, f"The uploaded file {ref.filename or ''} is no longer available.") from None
        return await asyncio.to_thread(_data_uri, data, wire)
    if ref.image_url and ref.image_url.lower().startswith(("https://", "http://")):
        return ref.image_url
    raise invalid("DashScope fetches only HTTP(S) image URLs.", "input_reference")


def target_model(spec: GenerationSpec) -> str:
    """The model the create goes to: a text model's image model when there is an image."""
    wire = WIRE.get(spec.model)
    if wire is None:
        raise invalid(f"The model {spec.model!r} is not one the dashscope-wan table knows.", "model")
    has_image = spec.reference is not None and bool(spec.reference.path or spec.reference.image_url)
    if has_image and not wire.image:
        if wire.image_model is None:
            raise UpstreamError(400, f"{spec.model} takes no image.", code="unsupported_by_upstream")
        return wire.image_model
    if wire.image and not has_image:
        raise UpstreamError(400, f"{spec.model} makes videos from an image only.", code="unsupported_by_upstream")
    return spec.model


def _check(spec: GenerationSpec) -> None:
    if spec.kind != "create":
        raise UpstreamError(400, f"DashScope has no {spec.kind} operation.", code="unsupported_by_upstream")
    if spec.size not in SIZES:
        raise invalid(f"DashScope's Wan models make no {spec.size} video.", "size")
    if spec.negative_prompt and len(spec.negative_prompt) > NEGATIVE_MAX:
        raise invalid(f"DashScope takes a negative prompt of up to {NEGATIVE_MAX} characters.", "negative_prompt")
    if spec.seed is not None and not 0 <= spec.seed <= SEED_MAX:
        raise invalid(f"DashScope takes a seed from 0 to {SEED_MAX}.", "seed")


async def create_body(spec: GenerationSpec) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/services/aigc/video-generation/video-synthesis`` for ``spec``."""
    _check(spec)
    model = target_model(spec)
    wire = WIRE[model]
    tier, ratio = SIZES[spec.size]
    given: dict[str, Any] = {"prompt": spec.prompt}
    if wire.image and spec.reference is not None:
        url = await image_url(spec.reference, wire)
        if wire.protocol == WAN27:
            given["media"] = [{"type": "first_frame", "url": url}]
        else:
            given["img_url"] = url
    if spec.negative_prompt:
        given["negative_prompt"] = spec.negative_prompt
    parameters: dict[str, Any] = {}
    if wire.protocol == WAN27:
        parameters["resolution"] = tier
        if not wire.image:  # the image model keeps the image's aspect
            parameters["ratio"] = ratio
    elif wire.image:
        parameters["resolution"] = tier
    else:
        parameters["size"] = wire_size(spec.size)
    parameters.update(duration=spec.seconds, prompt_extend=spec.enhance_prompt, watermark=False)
    if spec.seed is not None:
        parameters["seed"] = spec.seed
    return {"model": model, "input": given, "parameters": parameters}
