"""What ``/v1/models`` lists, as data: the Sora names and every configured upstream's own models.

One entry per model name a client may send:

- the **Sora names** (``sora-2``, ``sora-2-pro``, and any other client name an operator's ``model_map``
  adds), which work on every profile: ``maps_to`` names, for each upstream in order of preference, the
  provider model the name makes there; the entry's other fields describe the first of them (where a
  create goes while that upstream takes new jobs);
- each upstream's **provider-native models** (``kling-v3``, ``veo-3.1-generate-preview``), accepted as
  they are on the upstream that has them.

The OpenAI model object's fields stay (``id``, ``object: "model"``, ``created``, ``owned_by``), so
``client.models.list()`` reads the list; the rest sits in ``capabilities``: sizes (and the provider's
name for each shape), clip lengths one generation makes, the lengths the gateway makes from them
(trimmed, stitched or extended: any whole number of seconds up to ``max_seconds``), USD per second by
size and by resolution with the date and page the prices were read from, the provider and profile.

A tenant's ``models:`` list may name either kind: :func:`allows` is the one rule the listing, the
planner and the quota stage share (a name allows the provider model it makes on that upstream).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.capabilities import Capabilities

SORA_NAMES = ("sora-2", "sora-2-pro")  # the names every profile answers to (its documented default map)


def allowed_models(caps: Capabilities, names: Sequence[str]) -> frozenset[str]:
    """The models of ``caps`` a tenant's ``models:`` list allows: what each name makes on that upstream."""
    return frozenset(base for name in names if (base := caps.base_model(name)) is not None)


def allows(caps: Capabilities, names: Sequence[str] | None, model: str) -> bool:
    """Whether a tenant allowed ``names`` (None: every model) may use ``model`` on the upstream ``caps`` describes.

    ``model`` is allowed when the list names it, or names any model that is the same provider model there: a
    tenant allowed ``sora-2`` may send ``sora-2`` (and ``kling-v2-5-turbo``, what it makes) to a Kling upstream;
    one allowed only ``kling-v3`` may send ``sora-2-pro`` where it makes ``kling-v3``, and nowhere else.
    """
    if names is None or model in names:
        return True
    base = caps.base_model(model)
    return base is not None and base in allowed_models(caps, names)


@dataclass(frozen=True)
class Listing:
    """How the gateway adapts on top of every upstream (from the planner's options)."""

    max_seconds: int = 120
    style_presets: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ("mp4",)


def client_names(caps: Capabilities) -> list[str]:
    """The Sora names first, then any other client name the operator's map adds on this upstream."""
    extra = [name for name in caps.model_substitutes if name not in SORA_NAMES]
    return [*SORA_NAMES, *extra]


def resolution(size: str) -> str:
    """``1280x720`` -> ``720p`` (the short side)."""
    width, _, height = size.partition("x")
    try:
        return f"{min(int(width), int(height))}p"
    except ValueError:
        return size


def describe(caps: Capabilities, model: str, listing: Listing) -> dict[str, Any]:
    """The capabilities of provider model ``model`` on the upstream ``caps`` describes."""
    sizes = caps.models[model]
    clips = sorted({n for size in sizes for n in caps.clips(model, size)})
    prices = {size: caps.price_per_second(model, size) for size in sizes}
    by_resolution: dict[str, float] = {}
    for size, price in prices.items():
        key = resolution(size)
        by_resolution[key] = max(price, by_resolution.get(key, 0.0))
    shapes = [
        {
            "size": size,
            "label": shape.label if (shape := caps.shape(model, size)) is not None else "",
            "clip_seconds": list(caps.clips(model, size)),
            "usd_per_second": prices[size],
        }
        for size in sizes
    ]
    names = {**caps.model_aliases, **caps.model_substitutes}
    return {
        "upstream_profile": caps.profile,
        "provider": caps.provider or caps.profile,
        "upstream_model": model,
        "sizes": list(sizes),
        "shapes": shapes,
        "any_size": "scaled" if caps.scales_output else "nearest",  # what another size gets
        "clip_seconds": clips,  # what one upstream generation makes
        "extension_seconds": list(caps.extension_seconds),
        "min_seconds": 1,  # any whole number up to max_seconds: the next clip trimmed, or clips joined
        "max_seconds": listing.max_seconds,
        "long_videos": "extend" if caps.has("extensions") else "chain",
        "usd_per_second": prices,
        "usd_per_second_by_resolution": by_resolution,
        "prices_as_of": caps.prices_as_of or None,
        "price_source": caps.price_source or None,
        "endpoints": sorted(caps.endpoints),
        "also_answers_to": sorted(name for name, base in names.items() if base == model),
        "reference_kinds": sorted(caps.reference_kinds),
        "image_only": model in caps.image_only,
        "style_presets": list(listing.style_presets),
        "output_formats": list(listing.output_formats),
    }


def model_entries(
    upstreams: Sequence[Capabilities], listing: Listing, allowed: Sequence[str] | None, created: int
) -> list[dict[str, Any]]:
    """The ``data`` of ``/v1/models`` for upstreams in order of preference, as a tenant allowed ``allowed`` sees it:
    the client names first, then the provider models; each entry described on the first upstream serving it."""
    entries: dict[str, dict[str, Any]] = {}
    offers = [(caps, name) for caps in upstreams for name in client_names(caps)]
    offers += [(caps, model) for caps in upstreams for model in caps.models]
    for caps, name in offers:
        base = caps.base_model(name)
        if base is None or not allows(caps, allowed, name):
            continue
        served = {"upstream_profile": caps.profile, "provider": caps.provider or caps.profile, "model": base}
        if name not in entries:
            owner = "sora-gateway" if name in SORA_NAMES or name in caps.model_substitutes else caps.profile
            entries[name] = {"id": name, "object": "model", "created": created, "owned_by": owner, "maps_to": []}
            entries[name]["capabilities"] = describe(caps, base, listing)
        if served not in entries[name]["maps_to"]:
            entries[name]["maps_to"].append(served)
    return list(entries.values())
