"""What one upstream version can do, as data.

One :class:`Capabilities` row per upstream profile; the rows themselves are each provider's table
(``gateway/providers/<name>/table.py``). Everything that differs between versions (models, sizes,
clip lengths, endpoints, prices) is read from a row, never from ``if version >= …`` in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Capabilities:
    profile: str
    dialect: str  # which adapter speaks it (its provider's dialect)
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
