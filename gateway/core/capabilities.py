"""What one upstream version can do, as data.

One :class:`Capabilities` row per upstream profile; the rows themselves are each provider's table
(``gateway/providers/<name>/table.py``). Everything that differs between versions (models, sizes,
clip lengths, endpoints, prices) is read from a row, never from ``if version >= …`` in code.

A live provider describes each model by its :class:`Shape` s: the frames it outputs (``1280x720``),
what it calls them (``16:9@720p``), the clip lengths it takes at that shape (Veo: 1080p only at 8 s)
and the price per second there. A Sora-family row lists plain sizes and one clip list for all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Shape:
    """One output format of a model, in the provider's terms."""

    size: str  # the frames it outputs, WIDTHxHEIGHT
    label: str = ""  # the provider's name for it (e.g. "16:9@720p"), reported in x-sora-gateway-adapted
    seconds: tuple[int, ...] = ()  # clip lengths at this shape; empty: the profile's clip_seconds
    price: float | None = None  # USD per second at this shape; None: the model's price rule


def sizes_of(shapes: Mapping[str, tuple[Shape, ...]]) -> dict[str, tuple[str, ...]]:
    """model -> sizes, from a shape table (what :attr:`Capabilities.models` holds)."""
    return {model: tuple(dict.fromkeys(s.size for s in rows)) for model, rows in shapes.items()}


@dataclass(frozen=True)
class Capabilities:
    profile: str
    dialect: str  # which adapter speaks it (its provider's dialect)
    models: dict[str, tuple[str, ...]]  # model -> sizes (from ``shapes`` when a row has them)
    clip_seconds: tuple[int, ...]  # lengths one create may ask for (a shape may narrow them)
    extension_seconds: tuple[int, ...] = ()
    endpoints: frozenset[str] = frozenset()
    reference_kinds: frozenset[str] = frozenset()  # file, image_url, file_id
    # model -> (price per second up to 720p, price per second above 720p)
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    model_aliases: dict[str, str] = field(default_factory=dict)  # other names of the same model
    # client model -> a different upstream model that stands in for it (reported in ``adapted``): the
    # documented default model map (sora-2 -> the provider's fast tier), overridable by ``model_map``
    model_substitutes: dict[str, str] = field(default_factory=dict)
    # request fields the upstream takes natively (style_preset, negative_prompt, seed, last_frame,
    # reference_images, enhance_prompt); others become prompt clauses or are refused
    native_fields: frozenset[str] = frozenset()
    default_model: str = "sora-2"
    default_size: str = "720x1280"
    default_seconds: int = 4
    shapes: dict[str, tuple[Shape, ...]] = field(default_factory=dict)  # model -> its output formats
    scales_output: bool = False  # a size it cannot make exactly is made at the nearest and scaled to the ask
    # model -> its own native fields, where a model differs from the row's (Runway: gen4.5 takes a seed, not a
    # negative prompt; its Veo models the reverse)
    model_native: dict[str, frozenset[str]] = field(default_factory=dict)
    image_only: frozenset[str] = frozenset()  # models that need an input image (never picked for text alone)
    max_prompt_chars: int | None = None  # the longest prompt one create may carry (clauses included)
    provider: str = ""  # who runs it, for people (README, /v1/models, the console)
    prices_as_of: str = ""  # the date the prices were read from the provider's pricing page
    price_source: str = ""  # that page

    def has(self, endpoint: str) -> bool:
        return endpoint in self.endpoints

    def base_model(self, model: str) -> str | None:
        model = self.model_aliases.get(model, model)
        model = self.model_substitutes.get(model, model)
        return model if model in self.models else None

    def known_models(self) -> list[str]:
        """Every model name a request may use: the models, their aliases and the substituted names."""
        return [*self.models, *self.model_aliases, *self.model_substitutes]

    def native(self, model: str) -> frozenset[str]:
        """The request fields ``model`` takes as its own."""
        return self.model_native.get(self.base_model(model) or model, self.native_fields)

    def shape(self, model: str, size: str) -> Shape | None:
        base = self.base_model(model) or model
        return next((s for s in self.shapes.get(base, ()) if s.size == size), None)

    def clips(self, model: str, size: str) -> tuple[int, ...]:
        """The clip lengths one create of ``model`` at ``size`` may ask for."""
        shape = self.shape(model, size)
        return shape.seconds if shape is not None and shape.seconds else self.clip_seconds

    def price_per_second(self, model: str, size: str) -> float:
        shape = self.shape(model, size)
        if shape is not None and shape.price is not None:
            return shape.price
        low, high = self.prices.get(self.base_model(model) or model, (0.0, 0.0))
        width, _, height = size.partition("x")
        try:
            big = min(int(width), int(height)) > 720
        except ValueError:
            big = False
        return high if big else low

    def with_model_map(self, model_map: Mapping[str, str]) -> Capabilities:
        """This row with the operator's ``model_map`` (client name -> provider model) over its defaults.

        Entries naming a model this row does not have are left out (one map may serve several upstreams).
        """
        own = {name: target for name, target in model_map.items() if target in self.models and name != target}
        if not own:
            return self
        from dataclasses import replace

        return replace(self, model_substitutes={**self.model_substitutes, **own})
