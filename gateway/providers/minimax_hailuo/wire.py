"""A :class:`GenerationSpec` as MiniMax's create body (``POST /v1/video_generation``).

Text to video (vendor example, fields as the OpenAPI names them)::

    {"model": "MiniMax-Hailuo-2.3", "prompt": "A man picks up a book [Pedestal up], then reads [Static shot].",
     "duration": 6, "resolution": "1080P", "prompt_optimizer": false, "aigc_watermark": false}

``duration`` is a JSON integer (6 or 10), ``resolution`` an uppercase string. Image to video adds
``first_frame_image`` (a public URL, or an upload as ``data:image/...;base64,...``); MiniMax-Hailuo-02 also takes
``last_frame_image``. ``prompt_optimizer`` (MiniMax rewriting the prompt, on by default) is sent ``false`` unless
the client asked for an enhanced prompt: a Sora client's prompt is meant as written. ``callback_url`` is sent when
the gateway gives one. Nothing here sends a request; what MiniMax would refuse for sure (1080P at 10 s, a model
that needs an image without one, a last frame on a model that takes none, an image it does not read) is refused
before anything is paid.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from gateway.core.models import Reference
from gateway.providers.minimax_hailuo.table import IMAGE_BYTES, OFFERS, SIZES, WIRE
from gateway.upstreams.base import GenerationSpec, UpstreamError

MAGIC: tuple[tuple[bytes, str], ...] = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def invalid(message: str, param: str) -> UpstreamError:
    return UpstreamError(400, message, type="invalid_request_error", code="invalid_value", param=param)


def unsupported(message: str) -> UpstreamError:
    return UpstreamError(400, message, code="unsupported_by_upstream")


def image_type(data: bytes) -> str | None:
    """JPEG, PNG or WebP (what MiniMax takes), from the first bytes; ``None`` for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def _data_uri(data: bytes, param: str) -> str:
    kind = image_type(data)
    if kind is None:
        raise invalid("MiniMax takes a JPG, PNG or WebP image.", param)
    if len(data) >= IMAGE_BYTES:
        raise invalid(f"The image is too large for MiniMax ({len(data)} bytes; under 20 MB).", param)
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


async def image_value(ref: Reference, param: str) -> str:
    """An image as MiniMax takes it: an HTTP(S) URL as it is, an upload as a base64 data URI."""
    if ref.path:
        try:
            data = await asyncio.to_thread(Path(str(ref.path)).read_bytes)
        except OSError:
            raise UpstreamError(400, f"The uploaded file {ref.filename or ''} is no longer available.") from None
        return await asyncio.to_thread(_data_uri, data, param)
    if ref.image_url and ref.image_url.lower().startswith(("https://", "http://")):
        return ref.image_url
    raise invalid("MiniMax fetches only HTTP(S) image URLs.", param)


def has_image(ref: Reference | None) -> bool:
    return ref is not None and bool(ref.path or ref.image_url)


def target_model(spec: GenerationSpec) -> str:
    """The MiniMax model the create goes to (a tier's image model when the part starts from an image)."""
    offer = OFFERS.get(spec.model)
    if offer is None:
        raise invalid(f"The model {spec.model!r} is not one the minimax-hailuo table knows.", "model")
    model = offer.image_model if has_image(spec.reference) and offer.image_model else offer.sends
    if not WIRE[model].text and not has_image(spec.reference):
        raise unsupported(f"{model} makes videos from an image only.")
    return model


def _resolution(spec: GenerationSpec, model: str) -> str:
    resolution = SIZES.get(spec.size)
    if resolution is None or resolution not in OFFERS[spec.model].resolutions:
        raise invalid(f"MiniMax's {spec.model} makes no {spec.size} video.", "size")
    if spec.seconds not in WIRE[model].seconds[resolution]:
        allowed = ", ".join(str(n) for n in WIRE[model].seconds[resolution])
        raise invalid(f"MiniMax makes {resolution} videos of {allowed} s only.", "seconds")
    return resolution


async def create_body(spec: GenerationSpec) -> dict[str, Any]:
    """The JSON body of ``POST /v1/video_generation`` for ``spec``."""
    if spec.kind != "create":
        raise unsupported(f"MiniMax has no {spec.kind} operation.")
    model = target_model(spec)
    body: dict[str, Any] = {
        "model": model,
        "prompt": spec.prompt,
        "duration": spec.seconds,
        "resolution": _resolution(spec, model),
        "prompt_optimizer": spec.enhance_prompt,
        "aigc_watermark": False,
    }
    if spec.reference is not None and has_image(spec.reference):
        body["first_frame_image"] = await image_value(spec.reference, "input_reference")
    if spec.last_frame is not None and has_image(spec.last_frame):
        if not WIRE[model].last_frame:
            raise unsupported(f"{model} takes no last frame (MiniMax-Hailuo-02 does).")
        if "first_frame_image" not in body:
            raise unsupported("MiniMax takes a last frame only with a first frame.")
        body["last_frame_image"] = await image_value(spec.last_frame, "last_frame")
    if spec.callback_url:
        body["callback_url"] = spec.callback_url
    return body
