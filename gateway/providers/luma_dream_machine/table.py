"""What Luma's (older) Dream Machine API offers for video, as data: read by the gateway, the dialect and the simulator.

Sources (see /work/notes/providers/luma-dream-machine.md): Luma's OpenAPI spec ``lumalabs/lumaai-api``
``openapi.yaml`` (v1.1.0) and the SDK generated from it, ``lumalabs/lumaai-python`` v1.18.1
(``generation_create_params.py``): ``model`` "ray-2" | "ray-flash-2" | "ray-1-6", ``resolution`` "540p" | "720p" |
"1080p" | "4k", ``duration`` "5s" | "9s", ``aspect_ratio`` 1:1, 16:9, 9:16, 4:3, 3:4, 21:9, 9:21.

Shapes: 16:9 and 9:16 at 540p, 720p and 1080p at the usual pixels for those names (Luma documents no output
pixels); 4k is left out (it may be upscale only). ``ray-1-6`` is left out (its resolution and length are fixed
and undocumented). Clip lengths 5 and 9 s: this API takes images as URLs only, so a chained part never starts
from the previous part's last frame (the gateway has no URL for it) and both lengths are safe everywhere.

Prices: no vendor page; Comfy's pass-through table of Luma's per-clip prices (Comfy-Org/docs PR #514, ~2025,
unverified): ray-2 $0.40 / $0.72 (540p, 5 / 9 s), $0.71 / $1.27 (720p), $1.59 / $2.87 (1080p); ray-flash-2 lists only
4k ($2.19 vs ray-2's $6.37 for 5 s), so its other prices are ray-2's times that ratio (derived, unverified).
"""

from __future__ import annotations

from gateway.core.capabilities import Capabilities, Shape, sizes_of

PRICES_AS_OF = "2025-06-24"
PRICE_SOURCE = "https://github.com/Comfy-Org/docs/pull/514"
MODELS = ("ray-2", "ray-flash-2", "ray-1-6")  # what ``model`` takes
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
CLIP = (5, 9)
RAY2_USD_PER_SECOND = {"540p": 0.40 / 5, "720p": 0.71 / 5, "1080p": 1.59 / 5}
FLASH_RATIO = 2.19 / 6.37  # ray-flash-2 / ray-2 at 4k, 5 s
# shape size -> (aspect_ratio, resolution) as the create takes them
ASPECTS: dict[str, tuple[str, str]] = {
    "960x540": ("16:9", "540p"),
    "540x960": ("9:16", "540p"),
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
}


def _shapes(factor: float) -> tuple[Shape, ...]:
    return tuple(
        Shape(size=size, label=f"{ratio}@{res}", seconds=CLIP, price=round(RAY2_USD_PER_SECOND[res] * factor, 4))
        for size, (ratio, res) in ASPECTS.items()
    )


SHAPES: dict[str, tuple[Shape, ...]] = {"ray-flash-2": _shapes(FLASH_RATIO), "ray-2": _shapes(1.0)}


def size_of(aspect_ratio: object, resolution: object) -> str | None:
    """Our WxH for a listed generation's ``request`` (``None``: not one of our shapes)."""
    return next((size for size, pair in ASPECTS.items() if pair == (aspect_ratio, resolution)), None)


def pixels(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """The frames the simulator renders: the short side is the resolution's lines (4k: 2160), the long side follows
    the ratio (only 16:9 and 9:16 are the usual sizes; the rest is a guess)."""
    lines = 2160 if resolution == "4k" else int(resolution.removesuffix("p"))
    width, height = (int(part) for part in aspect_ratio.split(":"))
    long_side = round(lines * max(width, height) / min(width, height) / 2) * 2
    return (long_side, lines) if width >= height else (lines, long_side)


PROFILES: dict[str, Capabilities] = {
    "luma-dream-machine": Capabilities(
        profile="luma-dream-machine",
        dialect="luma-dream-machine",
        provider="Luma AI (Dream Machine API)",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=CLIP,
        endpoints=frozenset({"create", "retrieve", "list", "delete", "content"}),
        reference_kinds=frozenset({"image_url"}),  # keyframes are image URLs only: no upload, no chained frame
        native_fields=frozenset(),  # no negative prompt, no seed (frame1 takes a URL only: not offered)
        model_substitutes={"sora-2": "ray-flash-2", "sora-2-pro": "ray-2"},
        default_model="ray-flash-2",
        default_size="720x1280",
        default_seconds=4,
        scales_output=True,
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
