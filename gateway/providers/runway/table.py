"""What Runway's developer API offers, as data: read by the gateway, the dialect and the simulator.

Sources (see /work/notes/providers/runway.md): the vendor SDK ``runwayml/sdk-python`` v5.13.0 (create
params per model: ``ratio`` enums, ``duration`` literals), docs.dev.runwayml.com ``/api`` (gen4.5:
"Must be an integer from 2 to 10") and ``/guides/pricing/`` (credits per second; "Credits can be
purchased for $0.01 per credit", read 2026-09-28).

Two parts:

* :data:`PROFILES` — the ``runway`` Capabilities row the gateway plans with: the text-to-video models,
  each at the ``ratio`` values it takes on BOTH ``/v1/text_to_video`` and ``/v1/image_to_video`` (a
  chained segment goes to image-to-video with the previous segment's last frame), at the durations it
  takes there, priced per second with audio where the dialect turns audio on (it always asks
  ``"audio": true``: Sora 2 makes sound, and those are the verified prices).
* :data:`WIRE` — every model as Runway's create endpoints validate it (what the simulator checks and
  the dialect reads to know which optional fields a model takes). ``gen4_turbo`` is there (image to
  video only) but not in :data:`PROFILES`: the planner has no notion of a model that needs an image,
  so a text-only request could be planned onto it (see the README's Runway section).

Default model map: ``sora-2`` -> ``veo3.1_fast`` (Runway's fast text-to-video tier, 720p/1080p, with
sound like Sora 2, $0.15/s), ``sora-2-pro`` -> ``veo3.1`` (its highest-fidelity text-to-video: 1080p,
native audio, first/last frames, the top price tier at $0.40/s; gen4.5 is Runway's own flagship but
makes 720p only and no sound, so it cannot stand in for Sora 2 Pro's 1792x1024 with audio).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.capabilities import Capabilities, Shape, sizes_of

API_VERSION = "2024-11-06"  # X-Runway-Version, required on every call
USD_PER_CREDIT = 0.01
PRICES_AS_OF = "2026-09-28"
PRICE_SOURCE = "https://docs.dev.runwayml.com/guides/pricing/"

VEO_RATIOS = ("1280:720", "720:1280", "1920:1080", "1080:1920")
GEN4_T2V_RATIOS = ("1280:720", "720:1280")
GEN4_I2V_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")


@dataclass(frozen=True)
class WireModel:
    """One model as Runway's create endpoints take it."""

    t2v_ratios: tuple[str, ...]  # empty: not offered on /v1/text_to_video
    i2v_ratios: tuple[str, ...]  # empty: not offered on /v1/image_to_video
    durations: tuple[int, ...]  # the integers ``duration`` takes
    duration_required: bool
    default_duration: int  # what an omitted duration makes (UNVERIFIED where optional)
    credits: int  # credits per second (with audio where it has audio)
    credits_silent: int | None = None  # credits per second with ``"audio": false``
    seed: bool = False
    negative_prompt: bool = False
    audio: bool = False  # takes the ``audio`` boolean
    last_frame: bool = False  # promptImage may hold a "last" position (with a "first")
    content_moderation: bool = False  # takes ``contentModeration.publicFigureThreshold``
    i2v_prompt_required: bool = False  # promptText required on /v1/image_to_video too


GEN45_SECONDS = tuple(range(2, 11))
WIRE: dict[str, WireModel] = {
    "gen4.5": WireModel(
        GEN4_T2V_RATIOS, GEN4_I2V_RATIOS, GEN45_SECONDS, True, 5, 12,
        seed=True, content_moderation=True, i2v_prompt_required=True,
    ),
    # image to video only; its duration set is UNVERIFIED (5 or 10 in older docs, 2-10 third-party): 2-10 taken
    "gen4_turbo": WireModel((), GEN4_I2V_RATIOS, GEN45_SECONDS, False, 5, 5, seed=True, content_moderation=True),
    "veo3": WireModel(VEO_RATIOS, VEO_RATIOS, (8,), True, 8, 40, negative_prompt=True),
    "veo3.1": WireModel(
        VEO_RATIOS, VEO_RATIOS, (4, 6, 8), False, 8, 40, 20, negative_prompt=True, audio=True, last_frame=True
    ),
    "veo3.1_fast": WireModel(
        VEO_RATIOS, VEO_RATIOS, (4, 6, 8), False, 8, 15, 10, negative_prompt=True, audio=True, last_frame=True
    ),
}  # fmt: skip


def size_of(ratio: str) -> str:
    """Runway's ``ratio`` is the output in pixels: ``"1280:720"`` -> ``"1280x720"``."""
    return ratio.replace(":", "x")


def ratio_of(size: str) -> str:
    return size.replace("x", ":")


def _shapes(model: str) -> tuple[Shape, ...]:
    wire = WIRE[model]
    both = [r for r in wire.t2v_ratios if r in wire.i2v_ratios]
    price = round(wire.credits * USD_PER_CREDIT, 4)
    return tuple(Shape(size=size_of(r), label=r, seconds=wire.durations, price=price) for r in both)


SHAPES: dict[str, tuple[Shape, ...]] = {model: _shapes(model) for model in ("veo3.1_fast", "veo3.1", "veo3", "gen4.5")}
MODEL_SLOWDOWN: dict[str, float] = {"veo3.1_fast": 1.0, "veo3.1": 2.0, "veo3": 2.0, "gen4.5": 1.5, "gen4_turbo": 0.8}

PROFILES: dict[str, Capabilities] = {
    "runway": Capabilities(
        profile="runway",
        dialect="runway",
        models=sizes_of(SHAPES),
        clip_seconds=tuple(sorted({n for rows in SHAPES.values() for s in rows for n in s.seconds})),
        endpoints=frozenset({"create", "retrieve", "delete", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        model_substitutes={"sora-2": "veo3.1_fast", "sora-2-pro": "veo3.1"},
        native_fields=frozenset({"negative_prompt"}),
        default_model="veo3.1_fast",
        default_size="720x1280",
        default_seconds=4,
        shapes=SHAPES,
        scales_output=True,
        provider="Runway",
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
