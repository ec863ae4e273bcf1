"""What Alibaba Model Studio (DashScope) offers of its Wan video models, as data: read by the gateway, the
dialect and the simulator.

Sources (see /work/notes/providers/dashscope-wan.md): the vendor's API references "Wan text-to-video (2.1-2.6,
legacy protocol)", "Wan2.7 text-to-video", "image-to-video (first frame)" and "Manage asynchronous tasks" on
alibabacloud.com / help.aliyun.com, and the official SDK ``dashscope/dashscope-sdk-python``.

Two protocols share one create path (``POST /api/v1/services/aigc/video-generation/video-synthesis``); the
:data:`WIRE` row of a model says which body it gets:

* ``legacy`` (wan2.2 / 2.5 / 2.6): text to video takes ``parameters.size`` as ``"W*H"``; image to video takes
  ``input.img_url`` and ``parameters.resolution`` (``"720P"``), the output keeping the image's aspect.
* ``wan2.7``: ``parameters.resolution`` + ``parameters.ratio`` (no ``size``); image to video takes
  ``input.media: [{"type": "first_frame", "url"}]``.

Text and image models are different models here: a text model's image input (a client's first frame, or the
previous segment's last frame when a long video is chained) goes to its family's image model (``image_model``),
so every text model's shapes and durations are ones its image model makes too. The image models are listed on
their own as ``image_only``.

Sizes per tier (the legacy ``size`` enum, and what ``resolution`` x ``ratio`` makes on wan2.7): 480P 832x480,
480x832, 624x624; 720P 1280x720, 720x1280, 960x960; 1080P 1920x1080, 1080x1920, 1440x1440. The 4:3 and 3:4
sizes (1088*832, 1632*1248 ...) are left out: the planner picks the nearest size by area first, which would
make Sora's 1792x1024 a 4:3 1632x1248 stretched to 16:9.

Durations are JSON integers: wan2.7 2..15; wan2.6 5, 10, 15; wan2.5 5, 10; wan2.2 5 only (the wan2.5/2.6
and image-model matrices are UNVERIFIED in the spec: gateway data).

Prices (USD per second of output, audio on where the model makes it by default): wan2.7 and wan2.6 0.10 at
720P, 0.15 at 1080P; wan2.5-preview 0.05 / 0.10 / 0.15; wan2.2-plus 0.02 at 480P, 0.10 at 1080P (the Beijing
list price in CNY converted). All UNVERIFIED against the vendor's pricing page (third-party transcriptions,
read 2026-12-04); only successful tasks are billed.

Default model map: ``sora-2`` and ``sora-2-pro`` -> ``wan2.7-t2v``. Wan 2.7 is the current and best Wan text
to video documented (wan2.6 is reported retired on 2026-10-14, wan2.5 is a preview, wan2.2 has no 720P and
makes 5 s only); it takes any length from 2 to 15 s, so Sora's 4, 8 and 12 s are made exactly, with sound
like Sora 2. The tier follows the size: a sora-2 size (1280x720) is its fast, cheaper 720P tier; a
sora-2-pro size (1792x1024) lands on 1080P, the best Wan makes.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.capabilities import Capabilities, Shape, sizes_of

PRICES_AS_OF = "2026-12-04"
PRICE_SOURCE = "https://www.alibabacloud.com/help/en/model-studio/model-pricing"
LEGACY, WAN27 = "legacy", "wan2.7"

# tier -> (WIDTHxHEIGHT, ratio) it makes, landscape first
TIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "480P": (("832x480", "16:9"), ("480x832", "9:16"), ("624x624", "1:1")),
    "720P": (("1280x720", "16:9"), ("720x1280", "9:16"), ("960x960", "1:1")),
    "1080P": (("1920x1080", "16:9"), ("1080x1920", "9:16"), ("1440x1440", "1:1")),
}
# WIDTHxHEIGHT -> (tier, ratio)
SIZES: dict[str, tuple[str, str]] = {size: (tier, ratio) for tier, rows in TIERS.items() for size, ratio in rows}
# every size DashScope makes (the 4:3 and 3:4 ones too): what its simulator takes and renders
ALL_TIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "480P": TIERS["480P"],
    "720P": (*TIERS["720P"], ("1088x832", "4:3"), ("832x1088", "3:4")),
    "1080P": (*TIERS["1080P"], ("1632x1248", "4:3"), ("1248x1632", "3:4")),
}
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")


@dataclass(frozen=True)
class WireModel:
    """One model as the create endpoint takes it."""

    protocol: str  # LEGACY or WAN27
    image: bool  # an image-to-video model (an image is required)
    prices: dict[str, float]  # tier -> USD per second (its tiers)
    durations: tuple[int, ...]  # the integers ``parameters.duration`` takes
    image_model: str | None = None  # a text model's image-to-video model (what an image input goes to)
    prompt_max: int = 800  # characters of ``input.prompt`` (longer ones are cut by the provider)
    image_sides: tuple[int, int] = (360, 2000)  # the input image's smallest and largest side, in pixels
    image_bytes: int = 10 * 1024 * 1024  # the input image's largest file
    slowdown: float = 1.0  # the simulator's relative generation time


WAN27_SECONDS = tuple(range(2, 16))
NEGATIVE_MAX = 500  # characters of ``input.negative_prompt``
SEED_MAX = 2147483647
WIRE: dict[str, WireModel] = {
    "wan2.7-t2v": WireModel(WAN27, False, {"720P": 0.10, "1080P": 0.15}, WAN27_SECONDS, "wan2.7-i2v", 5000,
                            slowdown=1.5),
    "wan2.6-t2v": WireModel(LEGACY, False, {"720P": 0.10, "1080P": 0.15}, (5, 10, 15), "wan2.6-i2v", 1500),
    "wan2.5-t2v-preview": WireModel(LEGACY, False, {"480P": 0.05, "720P": 0.10, "1080P": 0.15}, (5, 10),
                                    "wan2.5-i2v-preview", 2000),
    "wan2.2-t2v-plus": WireModel(LEGACY, False, {"480P": 0.02, "1080P": 0.10}, (5,), "wan2.2-i2v-plus", 800,
                                 slowdown=0.8),
    "wan2.7-i2v": WireModel(WAN27, True, {"720P": 0.10, "1080P": 0.15}, WAN27_SECONDS, prompt_max=5000,
                            image_sides=(240, 8000), image_bytes=20 * 1024 * 1024, slowdown=1.5),
    "wan2.6-i2v": WireModel(LEGACY, True, {"720P": 0.10, "1080P": 0.15}, (5, 10, 15), prompt_max=1500),
    "wan2.5-i2v-preview": WireModel(LEGACY, True, {"480P": 0.05, "720P": 0.10, "1080P": 0.15}, (5, 10),
                                    prompt_max=2000),
    "wan2.2-i2v-plus": WireModel(LEGACY, True, {"480P": 0.02, "1080P": 0.10}, (5,), slowdown=0.8),
}  # fmt: skip


def wire_size(size: str) -> str:
    """``"1280x720"`` -> the legacy ``size`` value ``"1280*720"``."""
    return size.replace("x", "*")


def label(model: str, size: str) -> str:
    """The provider's name for a shape: the legacy text models' ``size``, else ``ratio@resolution``."""
    wire = WIRE[model]
    tier, ratio = SIZES[size]
    return wire_size(size) if wire.protocol == LEGACY and not wire.image else f"{ratio}@{tier}"


def _shapes(model: str) -> tuple[Shape, ...]:
    wire = WIRE[model]
    return tuple(
        Shape(size=size, label=label(model, size), seconds=wire.durations, price=price)
        for tier, price in wire.prices.items()
        for size, _ in TIERS[tier]
    )


SHAPES: dict[str, tuple[Shape, ...]] = {model: _shapes(model) for model in WIRE}
DEFAULT_MODEL = "wan2.7-t2v"

PROFILES: dict[str, Capabilities] = {
    "dashscope-wan": Capabilities(
        profile="dashscope-wan",
        dialect="dashscope-wan",
        provider="Alibaba Model Studio (DashScope), Wan",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=tuple(sorted({n for wire in WIRE.values() for n in wire.durations})),
        endpoints=frozenset({"create", "retrieve", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        model_substitutes={"sora-2": DEFAULT_MODEL, "sora-2-pro": DEFAULT_MODEL},
        native_fields=frozenset({"negative_prompt", "seed", "enhance_prompt"}),
        image_only=frozenset(model for model, wire in WIRE.items() if wire.image),
        max_prompt_chars=WIRE[DEFAULT_MODEL].prompt_max,
        default_model=DEFAULT_MODEL,
        default_size="720x1280",
        default_seconds=4,
        scales_output=True,
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
