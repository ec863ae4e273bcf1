"""What MiniMax offers of its Hailuo video models (the v1 API), as data: read by the gateway, the dialect and the
simulator.

Sources (read 2026-12-04): MiniMax's API reference, platform.minimax.io/docs/api-reference/video-generation-intro
("MiniMax-Hailuo-2.3-Fast: new image-to-video model"), .../video-generation-t2v and -i2v (the OpenAPI of
``POST /v1/video_generation``), .../video-generation-query, .../file-management-retrieve; new-api
``relay/channel/task/hailuo/models.go`` (``GetModelConfig``: 2.3 and 2.3-Fast 6/10 s at 768P/1080P, 02 also 512P).

* The v1 create takes ``duration`` (a JSON integer, 6 or 10) and ``resolution`` ("512P", "768P", "1080P") and
  **no aspect ratio**: a text-to-video is 16:9 (768P is 1366x768, 1080P 1920x1080); an image-to-video keeps
  the image's aspect. 1080P is made at 6 s only, 10 s at 768P (and 512P) only. 512P is image to video only
  (MiniMax-Hailuo-02). A last frame (``last_frame_image``) is taken by MiniMax-Hailuo-02 only.
* ``MiniMax-Hailuo-2.3-Fast`` is image to video only (listed in :data:`~Capabilities.image_only`).
* Portrait and square asks have no text-to-video shape here: they are made at 16:9 and scaled (reported in
  ``x-sora-gateway-adapted``). The v2 surface (MiniMax-H3, ``ratio``) is not in this table.

Prices (USD per second, pay-as-you-go, per video on MiniMax's page: 2.3 768P $0.28 / 6 s and $0.56 / 10 s,
1080P $0.49 / 6 s; 2.3-Fast $0.19 / $0.32, 1080P $0.33; 02 as 2.3, 512P $0.10 / $0.15). The higher per-second
rate of a resolution is the shape's price (a 6 s clip costs a little less). UNVERIFIED: read from third-party
transcriptions of platform.minimax.io/docs/guides/pricing-paygo on 2026-12-04 (the page's video tab did not
render); failed tasks are not billed.

Default model map: ``sora-2`` -> ``MiniMax-Hailuo-2.3-768P``, the fast and cheap tier: MiniMax-Hailuo-2.3 at
768P (Sora 2 makes 720p; a 1080p ask is made at 768P and scaled, $0.056/s), and every continuation part (a
chained part starting from the previous part's last frame) at ``MiniMax-Hailuo-2.3-Fast``, MiniMax's fast
image-to-video model ($0.032/s). ``sora-2-pro`` -> ``MiniMax-Hailuo-2.3``, MiniMax's best v1 model, at 1080P
where the size asks for it (6 s parts) and every part made by 2.3 itself. ``MiniMax-Hailuo-02`` (first and last
frame) and ``MiniMax-Hailuo-2.3-Fast`` (with an image) work as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.capabilities import Capabilities, Shape, sizes_of

PRICES_AS_OF = "2026-12-04"
PRICE_SOURCE = "https://platform.minimax.io/docs/guides/pricing-paygo"
HAILUO_23, HAILUO_23_FAST, HAILUO_02 = "MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02"
HAILUO_23_768P = "MiniMax-Hailuo-2.3-768P"  # the sora-2 tier: not a MiniMax name (sent as MiniMax-Hailuo-2.3)
PROMPT_MAX = 2000
IMAGE_BYTES = 20 * 1024 * 1024  # a first or last frame: JPG, PNG or WebP under 20 MB
IMAGE_SHORT_SIDE = 300  # its short side larger than this, its aspect between 2:5 and 5:2
# resolution -> (landscape, portrait, square) frames: text to video is always the landscape one
FRAMES: dict[str, tuple[str, str, str]] = {
    "512P": ("912x512", "512x912", "512x512"),
    "768P": ("1366x768", "768x1366", "768x768"),
    "1080P": ("1920x1080", "1080x1920", "1080x1080"),
}
SIZES: dict[str, str] = {frames[0]: resolution for resolution, frames in FRAMES.items()}  # WxH -> resolution


@dataclass(frozen=True)
class WireModel:
    """One model as ``POST /v1/video_generation`` takes it."""

    text: bool  # makes a video from text alone
    seconds: dict[str, tuple[int, ...]]  # resolution -> the ``duration`` integers it takes there
    prices: dict[str, float]  # resolution -> USD per second
    last_frame: bool = False  # takes ``last_frame_image``
    image_only: tuple[str, ...] = ()  # resolutions made from an image only
    slowdown: float = 1.0  # the simulator's relative generation time


WIRE: dict[str, WireModel] = {
    HAILUO_23: WireModel(True, {"768P": (6, 10), "1080P": (6,)}, {"768P": 0.056, "1080P": 0.0817}, slowdown=1.5),
    HAILUO_23_FAST: WireModel(False, {"768P": (6, 10), "1080P": (6,)}, {"768P": 0.032, "1080P": 0.055}),
    HAILUO_02: WireModel(
        True, {"512P": (6, 10), "768P": (6, 10), "1080P": (6,)}, {"512P": 0.015, "768P": 0.056, "1080P": 0.0817},
        last_frame=True, image_only=("512P",), slowdown=1.3,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Offer:
    """A model as the gateway offers it: the MiniMax model it is sent as, and at which resolutions."""

    sends: str  # the ``model`` of the create
    resolutions: tuple[str, ...]
    image_model: str | None = None  # the model a part with an image goes to (None: ``sends`` itself)
    natives: frozenset[str] = field(default_factory=lambda: frozenset({"enhance_prompt"}))


OFFERS: dict[str, Offer] = {
    HAILUO_23_768P: Offer(HAILUO_23, ("768P",), image_model=HAILUO_23_FAST),
    HAILUO_23: Offer(HAILUO_23, ("768P", "1080P")),
    HAILUO_02: Offer(HAILUO_02, ("768P", "1080P"), natives=frozenset({"enhance_prompt", "last_frame"})),
    HAILUO_23_FAST: Offer(HAILUO_23_FAST, ("768P", "1080P")),
}


def _shapes(name: str) -> tuple[Shape, ...]:
    offer = OFFERS[name]
    wire = WIRE[offer.sends]
    return tuple(
        Shape(size=FRAMES[res][0], label=f"16:9@{res}", seconds=wire.seconds[res], price=wire.prices[res])
        for res in offer.resolutions
    )


SHAPES: dict[str, tuple[Shape, ...]] = {name: _shapes(name) for name in OFFERS}
DEFAULT_MODEL = HAILUO_23_768P

PROFILES: dict[str, Capabilities] = {
    "minimax-hailuo": Capabilities(
        profile="minimax-hailuo",
        dialect="minimax-hailuo",
        provider="MiniMax Hailuo (MiniMax API, video generation v1)",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=(6, 10),
        endpoints=frozenset({"create", "retrieve", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        model_substitutes={"sora-2": HAILUO_23_768P, "sora-2-pro": HAILUO_23},
        native_fields=frozenset({"enhance_prompt"}),
        model_native={name: offer.natives for name, offer in OFFERS.items()},
        image_only=frozenset({HAILUO_23_FAST}),
        max_prompt_chars=PROMPT_MAX,
        default_model=DEFAULT_MODEL,
        default_size="1366x768",
        default_seconds=6,
        scales_output=True,
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
