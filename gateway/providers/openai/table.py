"""What each version of OpenAI's Videos API offers, as data: read by the gateway and by the simulator.

One :class:`Capabilities` row per profile (models and sizes, clip and extension lengths, endpoints,
reference kinds, prices, dated model names, defaults), plus what only the simulator needs of a
model: when it was published (``GET /models``) and how much longer than ``sora-2`` it takes.
"""

from __future__ import annotations

from gateway.core.capabilities import Capabilities

SORA2_SIZES = ("720x1280", "1280x720")
SORA2_PRO_SIZES = (*SORA2_SIZES, "1024x1792", "1792x1024")
MODELS = {"sora-2": SORA2_SIZES, "sora-2-pro": SORA2_PRO_SIZES}
PRICES = {"sora-2": (0.10, 0.10), "sora-2-pro": (0.30, 0.50)}  # per second: up to 720p, above
DATED = {"sora-2-2025-10-06": "sora-2", "sora-2-pro-2025-10-06": "sora-2-pro"}  # snapshot -> model
BASE_ENDPOINTS = frozenset({"create", "retrieve", "list", "delete", "content", "remix"})
REFERENCE_KINDS = frozenset({"file", "image_url", "file_id"})

# model (or snapshot) -> unix time it was published (GET /models)
MODEL_CREATED: dict[str, int] = {
    "sora-2": 1759708800,
    "sora-2-pro": 1759708800,
    "sora-2-2025-10-06": 1759708800,
    "sora-2-pro-2025-10-06": 1759708800,
    "sora-2-2025-12-08": 1765152000,
}
# model -> how much longer than sora-2 a simulated generation runs
MODEL_SLOWDOWN: dict[str, float] = {"sora-2": 1.0, "sora-2-pro": 2.0}

PROFILES: dict[str, Capabilities] = {
    "openai-2025-10": Capabilities(
        profile="openai-2025-10",
        dialect="openai",
        models=MODELS,
        clip_seconds=(4, 8, 12),
        endpoints=BASE_ENDPOINTS,
        reference_kinds=REFERENCE_KINDS,
        prices=PRICES,
        model_aliases=DATED,
        default_model="sora-2",
        default_size="720x1280",
        default_seconds=4,
    ),
    "openai-2026-03": Capabilities(
        profile="openai-2026-03",
        dialect="openai",
        models=MODELS,
        clip_seconds=(4, 8, 12),
        extension_seconds=(4, 8, 12, 16, 20),
        endpoints=BASE_ENDPOINTS | {"extensions", "edits", "characters"},
        reference_kinds=REFERENCE_KINDS,
        prices=PRICES,
        model_aliases={**DATED, "sora-2-2025-12-08": "sora-2"},
        default_model="sora-2",
        default_size="720x1280",
        default_seconds=4,
    ),
}
