"""A provider as the gateway knows it (:class:`Provider`), and the catalog of all of them.

A provider is one folder under ``gateway/providers/``: its table (what each version can do, as
:class:`Capabilities` rows), its dialect (an :class:`~gateway.upstreams.base.Upstream` adapter), its
detection probe and its simulator profiles. Its ``__init__.py`` describes it with one
:class:`Provider`; ``gateway/providers/__init__.py`` lists them in a :class:`ProviderCatalog`, which
is what the rest of the gateway is handed (``upstreams/`` sees it as a
:class:`~gateway.upstreams.catalog.Catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from gateway.core.capabilities import Capabilities
from gateway.upstreams.base import Upstream
from gateway.upstreams.detect import Probe
from gateway.upstreams.hosts import HostEntry

if TYPE_CHECKING:  # the simulator is imported only by what runs it, never by the gateway
    from gateway.simulator.profile import SimProfile


@dataclass(frozen=True)
class Provider:
    name: str  # its folder under gateway/providers/
    dialect: str  # what its adapter speaks: Capabilities.dialect, metric labels, cache keys
    profiles: Mapping[str, Capabilities]  # its versions by profile name (its table)
    adapter: Callable[[str, str], Upstream]  # (base URL, key) -> an adapter speaking its dialect
    probe: Probe | None = None  # how detection recognises it (None: only ever pinned)
    probe_last: bool = False  # its probe concludes for any URL (a baseline): tried after the others
    simulator: str | None = None  # the module whose SIM_PROFILES are its simulator profiles (imported on demand)
    hosts: tuple[str, ...] = ()  # its public API hostnames (".example.com": any host under it)


class ProviderCatalog:
    """Every provider, in the order they are listed; answers by profile, dialect or model."""

    def __init__(self, providers: Sequence[Provider], default_profile: str) -> None:
        self.providers = tuple(providers)
        self.profiles: dict[str, Capabilities] = {}
        self._dialects: dict[str, Provider] = {}
        for provider in self.providers:
            if provider.dialect in self._dialects or set(provider.profiles) & set(self.profiles):
                raise ValueError(f"provider {provider.name!r} repeats a dialect or a profile name")
            self._dialects[provider.dialect] = provider
            self.profiles.update(provider.profiles)
        self.default_profile = default_profile
        self.capabilities(default_profile)

    def capabilities(self, profile: str) -> Capabilities:
        try:
            return self.profiles[profile]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ValueError(f"unknown upstream profile {profile!r}; known: {known}") from None

    def dialect_of(self, name: str) -> str | None:
        if name in self.profiles:
            return self.profiles[name].dialect
        return name if name in self._dialects else None

    def adapter(self, dialect: str, base_url: str, api_key: str) -> Upstream:
        try:
            provider = self._dialects[dialect]
        except KeyError:
            known = ", ".join(self._dialects)
            raise ValueError(f"no adapter for upstream dialect {dialect!r}; known: {known}") from None
        return provider.adapter(base_url, api_key)

    def host_entries(self) -> list[HostEntry]:
        """Each provider's public API hosts and profiles (:mod:`gateway.upstreams.hosts`)."""
        return [HostEntry(p.name, p.hosts, tuple(p.profiles), p.probe is not None) for p in self.providers]

    def probes(self) -> list[Probe]:
        ordered = sorted(self.providers, key=lambda p: p.probe_last)  # stable: the listed order otherwise
        return [p.probe for p in ordered if p.probe is not None]

    def models(self) -> frozenset[str]:
        """Every model name a version lists (models and their other names, not substitutes)."""
        return frozenset(m for caps in self.profiles.values() for m in (*caps.models, *caps.model_aliases))

    def simulator_profiles(self) -> dict[str, SimProfile]:
        """What ``sora-gateway simulator`` can imitate, by profile name."""
        modules = [import_module(provider.simulator) for provider in self.providers if provider.simulator]
        found: list[SimProfile] = [p for module in modules for p in module.SIM_PROFILES]
        return {p.name: p for p in found}
