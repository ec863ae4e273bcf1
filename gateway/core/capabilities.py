"""What each upstream version can do, as data.

One :class:`Capabilities` row per upstream profile. Everything that differs
between versions (models, sizes, clip lengths, endpoints, prices) is read from
here, never from ``if version >= …`` in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SORA2_SIZES = ("720x1280", "1280x720")
SORA2_PRO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
# Azure lists each landscape size with its portrait twin
AZURE_SIZES = (
    "480x480", "854x480", "480x854", "720x720", "1280x720", "720x1280", "1080x1080", "1920x1080", "1080x1920",
)  # fmt: skip


@dataclass(frozen=True)
class Capabilities:
    profile: str
    dialect: str  # which adapter speaks it: openai | azure
    models: dict[str, tuple[str, ...]]  # model -> sizes
    clip_seconds: tuple[int, ...]  # lengths one create may ask for
    extension_seconds: tuple[int, ...] = ()
    endpoints: frozenset[str] = frozenset()
    reference_kinds: frozenset[str] = frozenset()  # file, image_url, file_id
    # model -> (price per second up to 720p, price per second above 720p)
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    model_aliases: dict[str, str] = field(default_factory=dict)  # other names of the same model
    # client model -> a different upstream model that stands in for it (reported in ``adapted``)
    model_substitutes: dict[str, str] = field(default_factory=dict)
    # request fields the upstream takes natively (style_preset, negative_prompt); others become prompt clauses
    native_fields: frozenset[str] = frozenset()
    default_model: str = "sora-2"
    default_size: str = "720x1280"
    default_seconds: int = 4

    def has(self, endpoint: str) -> bool:
        return endpoint in self.endpoints

    def base_model(self, model: str) -> str | None:
        model = self.model_aliases.get(model, model)
        model = self.model_substitutes.get(model, model)
        return model if model in self.models else None

    def known_models(self) -> list[str]:
        """Every model name a request may use: the models, their aliases and the substituted names."""
        return [*self.models, *self.model_aliases, *self.model_substitutes]

    def price_per_second(self, model: str, size: str) -> float:
        low, high = self.prices.get(self.base_model(model) or model, (0.0, 0.0))
        width, _, height = size.partition("x")
        try:
            big = min(int(width), int(height)) > 720
        except ValueError:
            big = False
        return high if big else low


OPENAI_PRICES = {"sora-2": (0.10, 0.10), "sora-2-pro": (0.30, 0.50)}
OPENAI_BASE_ENDPOINTS = frozenset({"create", "retrieve", "list", "delete", "content", "remix"})

PROFILES: dict[str, Capabilities] = {
    "openai-2025-10": Capabilities(
        profile="openai-2025-10",
        dialect="openai",
        models={"sora-2": SORA2_SIZES, "sora-2-pro": SORA2_PRO_SIZES},
        clip_seconds=(4, 8, 12),
        endpoints=OPENAI_BASE_ENDPOINTS,
        reference_kinds=frozenset({"file", "image_url", "file_id"}),
        prices=OPENAI_PRICES,
        model_aliases={"sora-2-2025-10-06": "sora-2", "sora-2-pro-2025-10-06": "sora-2-pro"},
    ),
    "openai-2026-03": Capabilities(
        profile="openai-2026-03",
        dialect="openai",
        models={"sora-2": SORA2_SIZES, "sora-2-pro": SORA2_PRO_SIZES},
        clip_seconds=(4, 8, 12),
        extension_seconds=(4, 8, 12, 16, 20),
        endpoints=OPENAI_BASE_ENDPOINTS | {"extensions", "edits", "characters"},
        reference_kinds=frozenset({"file", "image_url", "file_id"}),
        prices=OPENAI_PRICES,
        model_aliases={
            "sora-2-2025-10-06": "sora-2",
            "sora-2-pro-2025-10-06": "sora-2-pro",
            "sora-2-2025-12-08": "sora-2",
        },
    ),
    "azure-sora-1": Capabilities(
        profile="azure-sora-1",
        dialect="azure",
        models={"sora": AZURE_SIZES},
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

DEFAULT_PROFILE = "openai-2025-10"


def get_profile(name: str) -> Capabilities:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown upstream profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
