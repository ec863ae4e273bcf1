"""What Kling AI's classic task API offers, as data: read by the gateway and by the simulator.

Each model's shapes are its ``aspect_ratio`` x ``mode`` pairs: ``std`` makes 720p, ``pro`` 1080p (the
"master" models have a single mode and no ``mode`` choice), so a 1920x1080 ask is a ``pro`` generation.
Pixel sizes are the usual ones for those names (1280x720, 720x1280, 720x720; 1920x1080, 1080x1920,
1080x1080): Kling does not document them. Durations are the ``duration`` strings "5" and "10"
(``kling-v3``: "3" to "15").

Prices: Kling bills video packs in units, 1 unit = USD 0.14 internationally; per clip (5 s) kling-v2-5-turbo
std 1.5 u, pro 2.5 u; kling-v2-6 silent std 1.5 u, pro 2.5 u; kling-v1-6 std 2 u, pro 3.5 u; the master models
10 u; kling-v3 0.6 u/s std, 0.8 u/s pro (silent). Below as USD per second. Source: kling.ai's API pricing page
(read through its transcription of 2026-05-15; the sound/voice tiers are not used: the dialect sends no
``sound``). Failed tasks are not charged.
"""

from __future__ import annotations

from gateway.core.capabilities import Capabilities, Shape, sizes_of

UNIT_USD = 0.14  # one video-pack unit, international price
CLIP = (5, 10)
V3_CLIP = tuple(range(3, 16))
# shape size -> (aspect_ratio, mode) as the create takes them
ASPECTS: dict[str, tuple[str, str]] = {
    "1280x720": ("16:9", "std"),
    "720x1280": ("9:16", "std"),
    "720x720": ("1:1", "std"),
    "1920x1080": ("16:9", "pro"),
    "1080x1920": ("9:16", "pro"),
    "1080x1080": ("1:1", "pro"),
}
STD = ("1280x720", "720x1280", "720x720")
PRO = ("1920x1080", "1080x1920", "1080x1080")
SINGLE_MODE = frozenset({"kling-v2-master", "kling-v2-1-master"})  # one mode: no ``mode`` is sent


def _label(size: str, single: bool = False) -> str:
    ratio, mode = ASPECTS[size]
    resolution = "720p" if size in STD else "1080p"
    return f"{ratio}@{resolution}" if single else f"{ratio}@{resolution}/{mode}"


def _shapes(
    std: float | None, pro: float | None, seconds: tuple[int, ...] = CLIP, *, single: bool = False
) -> tuple[Shape, ...]:
    """A model's shapes: std (720p) at ``std`` units a second, pro (1080p) at ``pro``; None: not offered."""
    rows = [(size, std) for size in STD] + [(size, pro) for size in PRO]
    return tuple(
        Shape(size=size, label=_label(size, single), seconds=seconds, price=round(units * UNIT_USD, 4))
        for size, units in rows
        if units is not None
    )


# model -> shapes; prices in units per second (units per 5 s clip / 5)
SHAPES: dict[str, tuple[Shape, ...]] = {
    "kling-v2-5-turbo": _shapes(1.5 / 5, 2.5 / 5),
    "kling-v2-6": _shapes(1.5 / 5, 2.5 / 5),
    "kling-v3": _shapes(0.6, 0.8, V3_CLIP),
    "kling-v1-6": _shapes(2 / 5, 3.5 / 5),
    "kling-v2-master": _shapes(10 / 5, None, single=True),
    "kling-v2-1-master": _shapes(None, 10 / 5, single=True),
}
MODEL_SLOWDOWN: dict[str, float] = {"kling-v3": 1.5, "kling-v2-master": 2.0, "kling-v2-1-master": 2.0}

PROFILES: dict[str, Capabilities] = {
    "kling": Capabilities(
        profile="kling",
        dialect="kling",
        provider="Kling AI (Kuaishou)",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=tuple(sorted({n for rows in SHAPES.values() for s in rows for n in s.seconds})),
        endpoints=frozenset({"create", "retrieve", "list", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        native_fields=frozenset({"negative_prompt"}),
        model_substitutes={"sora-2": "kling-v2-5-turbo", "sora-2-pro": "kling-v3"},
        # what a Sora client that names none gets (the face's defaults: sora-2, 720x1280, 4 s)
        default_model="kling-v2-5-turbo",
        default_size="720x1280",
        default_seconds=4,
        scales_output=True,
        prices_as_of="2026-05-15",
        price_source="https://kling.ai/document-api/pricing/base/video",
    ),
}
