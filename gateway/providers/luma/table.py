"""What Luma's Agents API offers for video, as data: read by the gateway, the dialect and the simulator.

Sources (see /work/notes/providers/luma.md): the vendor SDK ``lumalabs/luma-agents-python`` v0.3.0
(``video_options_param.py``: ``resolution`` "540p" | "720p" | "1080p", ``duration`` "5s" | "10s", ``loop``
"not supported with duration=10s or hdr=true"), docs.agents.lumalabs.ai/guides/videos/generation/. Luma has one
public video model, ``ray-3.2``; the aspect ratios it takes for video (9:16, 3:4, 1:1, 4:3, 16:9, 21:9) are the
resellers' (GMI, Replicate), not the vendor's.

Shapes: 16:9 and 9:16 at each resolution, at the usual pixels for those names (960x540, 1280x720, 1920x1080;
Luma does not document output pixels, Runware's 1080p example is 1920x1080). The other ratios are not offered to
the planner: their pixels are unknown, and a guessed size delivered unscaled would be a wrong size (the simulator
still takes them, see :func:`pixels`).

Clip lengths: a shape takes 5 s only. Luma's ``"10s"`` is text to video only (no ``start_frame``/``end_frame``,
``loop`` or ``hdr``: SDK and resellers) and bills as two 5 s blocks. Every part after the first of a chained
video starts from the previous part's last frame (a ``start_frame``), and the planner chooses one clip list for all
the parts of a video, so 10 s is left out: it would be refused on the anchored parts, and costs exactly two 5 s
clips anyway (the per-second price below is the same for both).

Tiers: Luma has no cheaper model, only cheaper resolutions, so the two Sora names map to two views of ``ray-3.2``:
``ray-3.2`` (every resolution; what ``sora-2-pro`` and a client naming Luma's model get) and ``ray-3.2-720p``
(540p and 720p only; what ``sora-2`` gets, as Sora 2 makes 720p: a 1080p ask is made at 720p and scaled). Both
are sent to Luma as ``"model": "ray-3.2"`` (:data:`WIRE_MODEL`).

Prices: Luma's pricing page (docs.agents.lumalabs.ai/guides/pricing/) prices video "by request type, resolution,
dynamic range, and duration", but its video table could not be read; the figures are Luma's rate table as quoted
by Runware (runware.ai/docs/models/luma-ray3-2): text/image to video, SDR, 5 s: $0.15 (540p), $0.30 (720p),
$1.20 (1080p); 10 s twice that. Below as USD per second. Ray 3.2 makes no audio.
"""

from __future__ import annotations

from gateway.core.capabilities import Capabilities, Shape, sizes_of

MODEL = "ray-3.2"  # Luma's one public video model (the wire name)
PRICES_AS_OF = "2026-06-17"
PRICE_SOURCE = "https://runware.ai/docs/models/luma-ray3-2"
MAX_PROMPT = 6000  # 1-6000 characters (GMI's mirror of the Agents API; the SDK states no limit)

# what Luma takes on the wire for type "video" (the simulator validates against these)
RESOLUTIONS = ("540p", "720p", "1080p")
DURATIONS = ("5s", "10s")
ASPECT_RATIOS = ("9:16", "3:4", "1:1", "4:3", "16:9", "21:9")
USD_PER_SECOND = {"540p": 0.15 / 5, "720p": 0.30 / 5, "1080p": 1.20 / 5}  # SDR, per 5 s block / 5

CLIP = (5,)  # see the module docstring: 10 s never with an anchor frame, and every chained part has one
# shape size -> (aspect_ratio, resolution) as the create takes them
ASPECTS: dict[str, tuple[str, str]] = {
    "960x540": ("16:9", "540p"),
    "540x960": ("9:16", "540p"),
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
}


def _shapes(resolutions: tuple[str, ...]) -> tuple[Shape, ...]:
    return tuple(
        Shape(size=size, label=f"{ratio}@{res}", seconds=CLIP, price=round(USD_PER_SECOND[res], 4))
        for size, (ratio, res) in ASPECTS.items()
        if res in resolutions
    )


# table model -> shapes: two tiers of the one Luma model
SHAPES: dict[str, tuple[Shape, ...]] = {
    "ray-3.2": _shapes(RESOLUTIONS),
    "ray-3.2-720p": _shapes(("540p", "720p")),
}
WIRE_MODEL: dict[str, str] = {"ray-3.2": MODEL, "ray-3.2-720p": MODEL}  # table model -> Luma's "model"


def pixels(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """The frames Luma makes for an ``aspect_ratio`` at a ``resolution`` (the short side is the resolution's lines;
    the long side follows the ratio, even). Verified only for 16:9 and 9:16 (:data:`ASPECTS`)."""
    lines = int(resolution.removesuffix("p"))
    width, height = (int(part) for part in aspect_ratio.split(":"))
    long_side = round(lines * max(width, height) / min(width, height) / 2) * 2
    return (long_side, lines) if width >= height else (lines, long_side)


PROFILES: dict[str, Capabilities] = {
    "luma": Capabilities(
        profile="luma",
        dialect="luma",
        provider="Luma AI (Agents API)",
        models=sizes_of(SHAPES),
        shapes=SHAPES,
        clip_seconds=CLIP,
        endpoints=frozenset({"create", "retrieve", "content"}),
        reference_kinds=frozenset({"file", "image_url"}),
        native_fields=frozenset({"last_frame"}),  # video.end_frame; no negative prompt, no seed
        model_substitutes={"sora-2": "ray-3.2-720p", "sora-2-pro": "ray-3.2"},
        # what a Sora client that names none gets (the face's defaults: sora-2, 720x1280, 4 s)
        default_model="ray-3.2-720p",
        default_size="720x1280",
        default_seconds=4,
        scales_output=True,
        max_prompt_chars=MAX_PROMPT,
        prices_as_of=PRICES_AS_OF,
        price_source=PRICE_SOURCE,
    ),
}
