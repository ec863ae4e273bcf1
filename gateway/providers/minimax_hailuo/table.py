"""What MiniMax offers of its Hailuo video models (API v1 and v2), as data: read by the gateway, the dialect and
the simulator.

Sources (read 2026-12-04): MiniMax's API reference, platform.minimax.io/docs/api-reference/video-generation-intro
("MiniMax-Hailuo-2.3-Fast: new image-to-video model"), .../video-generation-t2v and -i2v (the OpenAPI of
``POST /v1/video_generation``), .../video-generation-query, .../file-management-retrieve, .../video-generation-v2-create
and -v2-query; new-api ``relay/channel/task/hailuo`` (``GetModelConfig``: 2.3 and 2.3-Fast 6/10 s at 768P/1080P,
02 also 512P; the v2 DTOs); LiteLLM ``litellm/llms/minimax/videos/transformation.py`` (v2).

* v1 (``POST /v1/video_generation``): ``duration`` a JSON integer (6 or 10), ``resolution`` "512P", "768P" or
  "1080P", and **no aspect ratio**: a text-to-video is 16:9 (768P is 1366x768, 1080P 1920x1080); an
  image-to-video keeps the image's aspect. 1080P is made at 6 s only, 10 s at 768P (and 512P) only; 512P is image
  to video only (MiniMax-Hailuo-02); a last frame (``last_frame_image``) is taken by MiniMax-Hailuo-02 only;
  ``MiniMax-Hailuo-2.3-Fast`` is image to video only. A portrait or square ask on a v1 model is made at 16:9 and
  scaled (reported in ``x-sora-gateway-adapted``).
* v2 (``POST /v2/video_generation``, model ``MiniMax-H3``): a ``content`` array (a text item, ``image_url`` items
  with role first_frame / last_frame), ``resolution`` "768P" or "2K", ``duration`` an integer (5..15 here: new-api
  says 4..15, MiniMax's router partners say 5..15), ``ratio`` (16:9, 9:16, ...; required for text alone, ignored
  with a first frame), native sound. Frames (UNVERIFIED: MiniMax names no pixel sizes): 768P has sides divisible
  by 32 within 1,032,192 pixels (Comfy's H3 nodes), so 1344x768 / 768x1344; 2K is 2560x1440 (Civitai's recipe).

Prices (USD per second, pay-as-you-go). v1 is priced per video on MiniMax's page: 2.3 768P $0.28 / 6 s and
$0.56 / 10 s, 1080P $0.49 / 6 s; 2.3-Fast $0.19 / $0.32, 1080P $0.33; 02 as 2.3, 512P $0.10 / $0.15 (a shape's
price is the higher per-second rate). MiniMax-H3: 768P $0.08, 2K $0.13 per second (CNY 0.50 / 0.80 in new-api's
comment). All UNVERIFIED: read from third-party transcriptions of platform.minimax.io/docs/guides/pricing-paygo on
2026-12-04 (the page's video tab did not render); failed tasks are not billed.

Default model map: ``sora-2`` -> ``MiniMax-H3-768P`` (MiniMax-H3 at 768P): the fast, cheaper tier ($0.08/s against
Sora 2's $0.10) that makes what Sora 2 makes: portrait and landscape, any length from 5 to 15 s in one create
(Sora's 8 and 12 s exactly), with sound; a 1080p ask is made at 768P and scaled. ``sora-2-pro`` -> ``MiniMax-H3-2K``:
MiniMax's newest and best model at its best resolution, every size made at 2K and scaled down (1792x1024 from
2560x1440; $0.13/s against Sora 2 Pro's $0.30 to $0.50). ``MiniMax-H3`` (either resolution, the one nearest the
size asked) works by name. The Hailuo 2.3 family is cheaper still but silent, landscape-only from text and
6/10 s: ``MiniMax-Hailuo-2.3-768P`` (2.3 at 768P, continuation
parts on the fast image model 2.3-Fast), ``MiniMax-Hailuo-2.3``, ``MiniMax-Hailuo-02`` (first and last frame) and
``MiniMax-Hailuo-2.3-Fast`` (with an image) work by name or through ``model_map``.
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


H3 = "MiniMax-H3"
H3_768P = "MiniMax-H3-768P"  # the sora-2 tier: not a MiniMax name (sent as MiniMax-H3)
H3_2K = "MiniMax-H3-2K"  # the sora-2-pro tier: not a MiniMax name (sent as MiniMax-H3)
# v2 resolution -> ratio -> frames (UNVERIFIED, see the docstring)
V2_FRAMES: dict[str, dict[str, str]] = {
    "768P": {"16:9": "1344x768", "9:16": "768x1344"},
    "2K": {"16:9": "2560x1440", "9:16": "1440x2560"},
}
V2_SIZES: dict[str, tuple[str, str]] = {
    size: (res, ratio) for res, row in V2_FRAMES.items() for ratio, size in row.items()
}
V2_RATIOS = ("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
V2_SECONDS = tuple(range(5, 16))
V2_PRICES = {"768P": 0.08, "2K": 0.13}


@dataclass(frozen=True)
class Offer:
    """A model as the gateway offers it: the MiniMax model it is sent as, and at which resolutions."""

    sends: str  # the ``model`` of the create
    resolutions: tuple[str, ...]
    image_model: str | None = None  # the model a part with an image goes to (None: ``sends`` itself)
    natives: frozenset[str] = field(default_factory=lambda: frozenset({"enhance_prompt"}))
    v2: bool = False  # the v2 surface (``/v2/video_generation``)


OFFERS: dict[str, Offer] = {
    H3_768P: Offer(H3, ("768P",), natives=frozenset({"last_frame"}), v2=True),
    H3_2K: Offer(H3, ("2K",), natives=frozenset({"last_frame"}), v2=True),
    H3: Offer(H3, ("768P", "2K"), natives=frozenset({"last_frame"}), v2=True),
    HAILUO_23_768P: Offer(HAILUO_23, ("768P",), image_model=HAILUO_23_FAST),
    HAILUO_23: Offer(HAILUO_23, ("768P", "1080P")),
    HAILUO_02: Offer(HAILUO_02, ("768P", "1080P"), natives=frozenset({"enhance_prompt", "last_frame"})),
    HAILUO_23_FAST: Offer(HAILUO_23_FAST, ("768P", "1080P")),
}


def _shapes(name: str) -> tuple[Shape, ...]:
    offer = OFFERS[name]
    if offer.v2:
        return tuple(
            Shape(size=size, label=f"{ratio}@{res}", seconds=V2_SECONDS, price=V2_PRICES[res])
            for res in offer.resolutions
            for ratio, size in V2_FRAMES[res].items()
        )
    wire = WIRE[offer.sends]
    return tuple(
        Shape(size=FRAMES[res][0], label=f"16:9@{res}", seconds=wire.seconds[res], price=wire.prices[res])
        for res in offer.resolutions
    )


SHAPES: dict[str, tuple[Shape, ...]] = {name: _shapes(name) for name in OFFERS}
DEFAULT_MODEL = H3_768P

PROFILES: dict[str, Capabilities] = {
    "minimax-hailuo": Capabilities(
        profile="minimax-hailuo",
        dialect="minimax-hailuo",
        provider="MiniMax Hailuo (MiniMax API, video generation v1 and v2)",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=tuple(sorted({6, 10, *V2_SECONDS})),
        endpoints=frozenset({"create", "retrieve", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        model_substitutes={"sora-2": H3_768P, "sora-2-pro": H3_2K},
        native_fields=frozenset({"enhance_prompt", "last_frame"}),
        model_native={name: offer.natives for name, offer in OFFERS.items()},
        image_only=frozenset({HAILUO_23_FAST}),
        max_prompt_chars=PROMPT_MAX,
        default_model=DEFAULT_MODEL,
        default_size="768x1344",
        default_seconds=5,
        scales_output=True,
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
