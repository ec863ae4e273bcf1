"""What Azure OpenAI Sora 1 offers, as data: read by the gateway and by the simulator.

One model, ``sora``, in nine sizes (each landscape size with its portrait twin), 1 to 20 s clips,
no remix, extension, edit or references. ``sora-1`` is a name only the gateway takes (the resource
knows its deployment as ``sora``); ``sora-2`` and ``sora-2-pro`` are served by ``sora`` and say so.
"""

from __future__ import annotations

from gateway.core.capabilities import Capabilities

SIZES = (
    "480x480", "854x480", "480x854", "720x720", "1280x720", "720x1280", "1080x1080", "1920x1080", "1080x1920",
)  # fmt: skip
MODEL_CREATED: dict[str, int] = {"sora": 1747008000}  # unix time published (GET /models)
MODEL_SLOWDOWN: dict[str, float] = {"sora": 1.0}  # relative length of a simulated generation

PROFILES: dict[str, Capabilities] = {
    "azure-sora-1": Capabilities(
        profile="azure-sora-1",
        dialect="azure",
        models={"sora": SIZES},
        clip_seconds=tuple(range(1, 21)),
        endpoints=frozenset({"create", "retrieve", "list", "delete", "content"}),
        prices={"sora": (0.10, 0.10)},
        model_aliases={"sora-1": "sora"},
        model_substitutes={"sora-2": "sora", "sora-2-pro": "sora"},
        default_model="sora",
        default_size="1280x720",
        default_seconds=5,
    ),
}
