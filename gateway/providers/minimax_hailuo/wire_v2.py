"""A :class:`GenerationSpec` as MiniMax's v2 create body (``POST /v2/video_generation``, MiniMax-H3).

Vendor example (platform.minimax.io/docs/api-reference/video-generation-v2-create)::

    {"model": "MiniMax-H3", "content": [{"type": "text", "text": "..."}], "resolution": "2K", "duration": 5,
     "ratio": "16:9"}

A first frame is an ``image_url`` item with ``"role": "first_frame"`` (a last frame ``"last_frame"``): a public URL
or an upload as a data URI. ``ratio`` is sent for text alone (MiniMax requires it there and refuses ``adaptive``);
with a first frame the video takes the image's aspect and ``ratio`` is left out. ``duration`` is a JSON integer.
``aigc_watermark`` is sent ``false``; ``callback_url`` when the gateway gives one. H3 has no prompt optimizer.
"""

from __future__ import annotations

from typing import Any

from gateway.providers.minimax_hailuo.table import OFFERS, V2_SECONDS, V2_SIZES
from gateway.providers.minimax_hailuo.wire import has_image, image_value, invalid, unsupported
from gateway.upstreams.base import GenerationSpec


def _image(url: str, role: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


async def create_body_v2(spec: GenerationSpec) -> dict[str, Any]:
    """The JSON body of ``POST /v2/video_generation`` for ``spec``."""
    if spec.kind != "create":
        raise unsupported(f"MiniMax has no {spec.kind} operation.")
    offer = OFFERS[spec.model]
    shape = V2_SIZES.get(spec.size)
    if shape is None or shape[0] not in offer.resolutions:
        raise invalid(f"MiniMax's {spec.model} makes no {spec.size} video.", "size")
    if spec.seconds not in V2_SECONDS:
        raise invalid(f"MiniMax-H3 makes {V2_SECONDS[0]} to {V2_SECONDS[-1]} s in one create.", "seconds")
    content: list[dict[str, Any]] = [{"type": "text", "text": spec.prompt}]
    if has_image(spec.reference):
        content.append(_image(await image_value(spec.reference, "input_reference"), "first_frame"))  # type: ignore[arg-type]
    if has_image(spec.last_frame):
        content.append(_image(await image_value(spec.last_frame, "last_frame"), "last_frame"))  # type: ignore[arg-type]
    body: dict[str, Any] = {"model": offer.sends, "content": content, "resolution": shape[0], "duration": spec.seconds}
    if len(content) == 1:
        body["ratio"] = shape[1]
    body["aigc_watermark"] = False
    if spec.callback_url:
        body["callback_url"] = spec.callback_url
    return body
