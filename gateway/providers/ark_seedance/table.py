"""What ByteDance Seedance on BytePlus ModelArk offers, as data: read by the gateway, the dialect and the simulator.

Sources (see /work/notes/providers/ark-seedance.md): BytePlus "Creating a video generation task"
(docs.byteplus.com/en/docs/ModelArk/1520757), "Seedance 2.0 series tutorial" (.../ModelArk/2291680), the
Volcengine create page (volcengine.com/docs/82379/1520757: per-model ranges and the pixel table) and
"Pricing" (docs.byteplus.com/en/docs/ModelArk/1544106).

* :data:`WIRE` — each model as the create endpoint validates it (resolutions, the ``duration`` range, which of
  ``seed``, ``generate_audio``, ``camera_fixed``, a first + last frame it takes). The simulator checks bodies
  against it; the dialect reads it to send only what a model takes.
* :data:`SHAPES` — the ``ratio`` x ``resolution`` pairs the gateway plans with, with the frames Ark outputs
  there (the vendor's table: Seedance 1.0 makes 1248x704 at 16:9 720p, 1.5 pro and 2.0 make 1280x720), the
  ``duration`` integers one create takes and the USD per second. Only 16:9, 9:16 and 1:1 are offered to the
  planner: it picks the supported size of the closest *area*, and 4:3 (1112x834), 3:4 and 21:9 (1470x630) at
  720p are larger than 1280x720, so a 16:9 ask at another resolution would be made at 4:3 and stretched.

Prices: Ark bills video tokens, tokens = width x height x 24 fps x seconds / 1024 (``usage.total_tokens`` has
the exact count: the vendor's 5 s 720p example is 108 900 = 1280 x 720 x 121 / 1024, one frame more), at USD
per million tokens (online tier, no video input): 2.0 $7.0 (480p/720p) and $7.7 (1080p), 2.0 fast $5.6,
1.5 pro $2.4 with audio, 1.0 pro $2.5, 1.0 pro-fast $1.0. These are UNVERIFIED: read from docs.byteplus.com
1544106 through a third-party capture of 2026-09-02 (some may be time-limited discounts). Below as USD per
second at each shape; failed and moderated tasks are not billed.

Default model map: ``sora-2`` -> ``dreamina-seedance-2-0-fast-260128`` (Seedance 2.0 Fast: the current fast
tier, 480p/720p with native audio like Sora 2, 4-15 s in one create, $0.12/s at 720p), ``sora-2-pro`` ->
``dreamina-seedance-2-0-260128`` (Seedance 2.0: ByteDance's best verified model, 1080p with audio, first/last
frames; $0.15/s at 720p, $0.37/s at 1080p). Seedance 2.5 and 2.0 mini are seen only in third-party notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.capabilities import Capabilities, Shape, sizes_of

PRICES_AS_OF = "2026-09-02"
PRICE_SOURCE = "https://docs.byteplus.com/en/docs/ModelArk/1544106"
FPS = 24

SEEDANCE_20 = "dreamina-seedance-2-0-260128"
SEEDANCE_20_FAST = "dreamina-seedance-2-0-fast-260128"
SEEDANCE_15_PRO = "seedance-1-5-pro-251215"
SEEDANCE_10_PRO = "seedance-1-0-pro-250528"  # BytePlus id UNVERIFIED (Volcengine: doubao-seedance-1-0-pro-250528)
SEEDANCE_10_PRO_FAST = "seedance-1-0-pro-fast-251015"  # id UNVERIFIED

RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
PLANNED_RATIOS = ("16:9", "9:16", "1:1")  # what the planner is offered (see the module docstring)


# (pixel family, resolution) -> ratio -> the frames Ark outputs (Volcengine create page, its output table)
def _row(*sizes: str) -> dict[str, str]:
    return dict(zip(RATIOS, sizes, strict=True))


# (pixel family, resolution) -> ratio -> the frames Ark outputs (Volcengine create page, its output table)
PIXELS: dict[tuple[str, str], dict[str, str]] = {
    ("1.0", "480p"): _row("864x480", "736x544", "640x640", "544x736", "480x864", "960x416"),
    ("1.0", "720p"): _row("1248x704", "1120x832", "960x960", "832x1120", "704x1248", "1504x640"),
    ("1.0", "1080p"): _row("1920x1088", "1664x1248", "1440x1440", "1248x1664", "1088x1920", "2176x928"),
    ("2.0", "480p"): _row("864x496", "752x560", "640x640", "560x752", "496x864", "992x432"),
    ("2.0", "720p"): _row("1280x720", "1112x834", "960x960", "834x1112", "720x1280", "1470x630"),
    ("2.0", "1080p"): _row("1920x1080", "1664x1248", "1440x1440", "1248x1664", "1080x1920", "2206x946"),
}


@dataclass(frozen=True)
class WireModel:
    """One model as ``POST /contents/generations/tasks`` takes it."""

    family: str  # whose pixel sizes it makes: "1.0" (Seedance 1.0) or "2.0" (1.5 pro and the 2.0 series)
    resolutions: tuple[str, ...]
    durations: tuple[int, int]  # the integer ``duration`` range, inclusive
    usd_per_million: dict[str, float]  # resolution -> price per million video tokens
    auto_duration: bool = False  # ``duration: -1`` (the model picks)
    frames: bool = False  # takes ``frames`` instead of ``duration``
    first_last: bool = True  # a first and a last frame (two images, roles first_frame / last_frame)
    reference_images: int = 0  # most ``reference_image`` items (0: none)
    audio: bool = False  # takes ``generate_audio``
    seed: bool = True  # takes ``seed`` (the 2.0 series: "temporarily not supported")
    camera_fixed: bool = True
    adaptive_text: bool = False  # ``ratio: adaptive`` without an image
    flex: bool = True  # ``service_tier: flex``
    draft: bool = False
    default_resolution: str = "720p"
    slowdown: float = 1.0  # the simulator's relative generation time


HD = ("480p", "720p", "1080p")
WIRE: dict[str, WireModel] = {
    SEEDANCE_20: WireModel(
        "2.0", HD, (4, 15), {"480p": 7.0, "720p": 7.0, "1080p": 7.7}, auto_duration=True, reference_images=9,
        audio=True, seed=False, camera_fixed=False, adaptive_text=True, flex=False, slowdown=2.0,
    ),
    SEEDANCE_20_FAST: WireModel(
        "2.0", ("480p", "720p"), (4, 15), {"480p": 5.6, "720p": 5.6}, auto_duration=True, reference_images=9,
        audio=True, seed=False, camera_fixed=False, adaptive_text=True, flex=False,
    ),
    SEEDANCE_15_PRO: WireModel(
        "2.0", HD, (4, 12), dict.fromkeys(HD, 2.4), auto_duration=True, audio=True, adaptive_text=True, draft=True,
        slowdown=1.5,
    ),
    SEEDANCE_10_PRO: WireModel(
        "1.0", HD, (2, 12), dict.fromkeys(HD, 2.5), frames=True, default_resolution="1080p", slowdown=1.5,
    ),
    SEEDANCE_10_PRO_FAST: WireModel(
        "1.0", HD, (2, 12), dict.fromkeys(HD, 1.0), frames=True, first_last=False, default_resolution="1080p",
    ),
}  # fmt: skip


def frames_of(model: str, ratio: str, resolution: str) -> str | None:
    """The WxH ``model`` outputs at ``ratio`` and ``resolution`` (None: not one of its pairs)."""
    wire = WIRE.get(model)
    family = wire.family if wire is not None else ("1.0" if "-1-0-" in model else "2.0")
    return PIXELS.get((family, resolution), {}).get(ratio)


def usd_per_second(size: str, usd_per_million: float) -> float:
    """Ark's video tokens for one second at ``size`` (w x h x 24 / 1024), priced."""
    width, height = (int(n) for n in size.split("x"))
    return round(width * height * FPS / 1024 * usd_per_million / 1_000_000, 4)


def _shapes(model: str) -> tuple[Shape, ...]:
    wire = WIRE[model]
    low, high = wire.durations
    seconds = tuple(range(low, high + 1))
    rows = []
    for resolution in wire.resolutions:
        for ratio in PLANNED_RATIOS:
            size = PIXELS[(wire.family, resolution)][ratio]
            price = usd_per_second(size, wire.usd_per_million[resolution])
            rows.append(Shape(size=size, label=f"{ratio}@{resolution}", seconds=seconds, price=price))
    return tuple(rows)


SHAPES: dict[str, tuple[Shape, ...]] = {model: _shapes(model) for model in WIRE}
# the frames of a shape -> (ratio, resolution), per model (the 1.0 and 2.0 families share some sizes)
SHAPE_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    model: {s.size: (s.label.split("@")[0], s.label.split("@")[1]) for s in shapes} for model, shapes in SHAPES.items()
}


def _native(wire: WireModel) -> frozenset[str]:
    return frozenset({"seed"} if wire.seed else set()) | frozenset({"last_frame"} if wire.first_last else set())


MODEL_NATIVE: dict[str, frozenset[str]] = {model: _native(wire) for model, wire in WIRE.items()}


PROFILES: dict[str, Capabilities] = {
    "ark-seedance": Capabilities(
        profile="ark-seedance",
        dialect="ark",
        provider="ByteDance Seedance (BytePlus ModelArk)",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=tuple(sorted({n for rows in SHAPES.values() for s in rows for n in s.seconds})),
        endpoints=frozenset({"create", "retrieve", "list", "delete", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        model_substitutes={"sora-2": SEEDANCE_20_FAST, "sora-2-pro": SEEDANCE_20},
        native_fields=frozenset({"last_frame"}),
        model_native=MODEL_NATIVE,
        default_model=SEEDANCE_20_FAST,
        default_size="720x1280",
        default_seconds=4,
        scales_output=True,
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
