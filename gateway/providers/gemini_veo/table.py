"""What Google Veo on the Gemini API offers, as data: read by the gateway and by the simulator.

One profile, ``gemini-veo``. Each model's shapes are its ``aspectRatio`` x ``resolution`` pairs with
the frames they make (Veo 3.1 "16:9@720p" is 1280x720), the ``durationSeconds`` it takes there
(1080p and 4k only at 8 s) and the USD per second of output, audio included (Veo 3.x always makes
audio on the Gemini API; Veo 2 makes none). Sources: ai.google.dev/gemini-api/docs/veo (models,
durations, resolutions, rules) and ai.google.dev/gemini-api/docs/pricing (prices, read 2026-09-24).
Veo 3.0 and Veo 2 are no longer on the pricing page: their figures are the last published ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.capabilities import Capabilities, Shape, sizes_of

VEO_31, VEO_31_FAST, VEO_31_LITE = (
    "veo-3.1-generate-preview",
    "veo-3.1-fast-generate-preview",
    "veo-3.1-lite-generate-preview",
)
VEO_30, VEO_30_FAST, VEO_20 = "veo-3.0-generate-001", "veo-3.0-fast-generate-001", "veo-2.0-generate-001"

ASPECTS = {"16:9": (16, 9), "9:16": (9, 16)}
# resolution -> the short side of its frames
RESOLUTIONS = {"720p": 720, "1080p": 1080, "4k": 2160}
ONLY_8 = (8,)


def frames(aspect: str, resolution: str) -> str:
    """``"16:9", "1080p"`` -> ``"1920x1080"``."""
    short = RESOLUTIONS[resolution]
    w, h = ASPECTS[aspect]
    long = short * 16 // 9
    return f"{long}x{short}" if w > h else f"{short}x{long}"


def _shapes(prices: dict[str, float], seconds: dict[str, tuple[int, ...]]) -> tuple[Shape, ...]:
    """Both aspect ratios at every resolution priced here."""
    return tuple(
        Shape(size=frames(aspect, res), label=f"{aspect}@{res}", seconds=seconds[res], price=price)
        for res, price in prices.items()
        for aspect in ASPECTS
    )


VEO3 = {"720p": (4, 6, 8), "1080p": ONLY_8, "4k": ONLY_8}
SHAPES: dict[str, tuple[Shape, ...]] = {
    VEO_31: _shapes({"720p": 0.40, "1080p": 0.40, "4k": 0.60}, VEO3),
    VEO_31_FAST: _shapes({"720p": 0.10, "1080p": 0.12, "4k": 0.30}, VEO3),
    VEO_31_LITE: _shapes({"720p": 0.05, "1080p": 0.08}, VEO3),
    VEO_30: _shapes({"720p": 0.40, "1080p": 0.40}, VEO3),
    VEO_30_FAST: _shapes({"720p": 0.15, "1080p": 0.15}, VEO3),
    VEO_20: _shapes({"720p": 0.35}, {"720p": (5, 6, 8)}),
}


@dataclass(frozen=True)
class ModelRules:
    """What a model takes beyond its shapes (the docs' per-model table)."""

    resolution: bool = True  # takes the ``resolution`` parameter (Veo 2: "Unsupported", always 720p)
    last_frame: bool = True  # ``instances[0].lastFrame`` (interpolation, with a first frame)
    reference_images: bool = False  # ``instances[0].referenceImages`` (up to 3 "asset" images, 8 s only)
    samples: int = 1  # the most ``sampleCount`` it takes
    audio: bool = True  # always makes audio (no way to turn it off on this API)


RULES: dict[str, ModelRules] = {
    VEO_31: ModelRules(reference_images=True),
    VEO_31_FAST: ModelRules(reference_images=True),
    VEO_31_LITE: ModelRules(),
    VEO_30: ModelRules(last_frame=False),
    VEO_30_FAST: ModelRules(last_frame=False),
    VEO_20: ModelRules(resolution=False, samples=2, audio=False),
}
MAX_REFERENCE_IMAGES = 3
DURATION_BOUNDS = {VEO_20: (5, 8)}  # the range the "out of bound" refusal names (else 4 to 8)
# model -> the simulator's relative generation time (Veo 3.1 standard is the slowest, Lite the fastest)
MODEL_SLOWDOWN = {VEO_31: 2.0, VEO_31_FAST: 1.0, VEO_31_LITE: 0.8, VEO_30: 2.0, VEO_30_FAST: 1.0, VEO_20: 1.5}
MODEL_NAMES = {
    VEO_31: "Veo 3.1",
    VEO_31_FAST: "Veo 3.1 Fast",
    VEO_31_LITE: "Veo 3.1 Lite",
    VEO_30: "Veo 3",
    VEO_30_FAST: "Veo 3 Fast",
    VEO_20: "Veo 2",
}

PROFILES: dict[str, Capabilities] = {
    "gemini-veo": Capabilities(
        profile="gemini-veo",
        dialect="veo",
        models=sizes_of(SHAPES),
        clip_seconds=(4, 5, 6, 8),
        endpoints=frozenset({"create", "retrieve", "content"}),
        reference_kinds=frozenset({"file"}),
        model_substitutes={"sora-2": VEO_31_FAST, "sora-2-pro": VEO_31},
        native_fields=frozenset({"negative_prompt", "last_frame", "enhance_prompt"}),
        default_model=VEO_31_FAST,
        default_size="1280x720",
        default_seconds=8,
        shapes=SHAPES,
        scales_output=True,
        provider="Google Veo (Gemini API)",
        prices_as_of="2026-09-24",
        price_source="https://ai.google.dev/gemini-api/docs/pricing",
    ),
}
