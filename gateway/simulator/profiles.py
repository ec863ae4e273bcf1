"""What each simulated upstream version offers, as data (one :class:`Profile` per name)."""

from __future__ import annotations

from dataclasses import dataclass, field

SORA2_SIZES = ("720x1280", "1280x720")
SORA2_PRO_SIZES = (*SORA2_SIZES, "1024x1792", "1792x1024")
AZURE_SIZES = ("480x480", "854x480", "720x720", "1280x720", "1080x1080", "1920x1080")
AZURE_SIZES_ALL = tuple(dict.fromkeys((*AZURE_SIZES, *("x".join(reversed(s.split("x"))) for s in AZURE_SIZES))))

# model -> how much longer than sora-2 its generation runs
MODEL_SLOWDOWN: dict[str, float] = {"sora-2": 1.0, "sora-2-pro": 2.0, "sora": 1.0}

# model -> unix time the simulated model was published (for GET /models)
MODEL_CREATED: dict[str, int] = {
    "sora-2": 1759708800,
    "sora-2-pro": 1759708800,
    "sora-2-2025-10-06": 1759708800,
    "sora-2-pro-2025-10-06": 1759708800,
    "sora-2-2025-12-08": 1765152000,
    "sora": 1747008000,
}


@dataclass(frozen=True)
class Profile:
    name: str
    dialect: str  # "openai" (/v1/videos) or "azure" (/openai/v1/video/generations/jobs)
    models: dict[str, tuple[str, ...]]  # base model -> sizes
    aliases: dict[str, str] = field(default_factory=dict)  # dated model -> base model
    seconds: tuple[str, ...] = ("4", "8", "12")
    extension_seconds: tuple[str, ...] = ()
    features: frozenset[str] = frozenset()  # extensions, edits, characters, moderations, chat
    default_model: str = "sora-2"
    default_size: str = "720x1280"
    default_seconds: str = "4"

    def base_model(self, model: str) -> str | None:
        base = self.aliases.get(model, model)
        return base if base in self.models else None

    def model_ids(self) -> list[str]:
        return [*self.models, *self.aliases]

    def has(self, feature: str) -> bool:
        return feature in self.features


_OPENAI_MODELS = {"sora-2": SORA2_SIZES, "sora-2-pro": SORA2_PRO_SIZES}
_OPENAI_ALIASES = {"sora-2-2025-10-06": "sora-2", "sora-2-pro-2025-10-06": "sora-2-pro"}

PROFILES: dict[str, Profile] = {
    "openai-2025-10": Profile(
        name="openai-2025-10",
        dialect="openai",
        models=_OPENAI_MODELS,
        aliases=_OPENAI_ALIASES,
        features=frozenset({"moderations", "chat"}),
    ),
    "openai-2026-03": Profile(
        name="openai-2026-03",
        dialect="openai",
        models=_OPENAI_MODELS,
        aliases={**_OPENAI_ALIASES, "sora-2-2025-12-08": "sora-2"},
        extension_seconds=("4", "8", "12", "16", "20"),
        features=frozenset({"moderations", "chat", "extensions", "edits", "characters"}),
    ),
    "azure-sora-1": Profile(
        name="azure-sora-1",
        dialect="azure",
        models={"sora": AZURE_SIZES_ALL},
        seconds=tuple(str(n) for n in range(1, 21)),
        default_model="sora",
        default_size="480x480",
        default_seconds="5",
    ),
}

DEFAULT_PROFILE = "openai-2025-10"


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
