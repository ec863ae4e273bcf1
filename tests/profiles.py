"""A simulator of any catalogued profile with a gateway pinned to it: what the per-profile campaigns start.

Every profile comes from the catalog (``gateway.providers.PROFILES``), so a new provider is covered by the crash
and schemathesis runs as soon as it is listed. The upstream is configured as an operator would
(``upstreams: [{url, api_key_env, profile}]``, the URL with the profile's own base path), with a key of the form
the provider takes (Kling: ``ACCESS:SECRET``); the simulator accepts only that key.
"""

from __future__ import annotations

from pathlib import Path

from gateway.providers import CATALOG, PROFILES, PROVIDERS
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Gateway, start_gateway
from tests.procs import Proc, start_simulator

ALL_PROFILES = list(PROFILES)
KEY_ENV = "PROFILE_UPSTREAM_KEY"
KLING_KEY = "ak-profiles-0001:sk-profiles-SECRET-0123456789"


def upstream_key(profile: str) -> str:
    return KLING_KEY if PROFILES[profile].dialect == "kling" else UPSTREAM_KEY


def lists(profile: str) -> bool:
    """Whether the profile's adapter can find a lost create again (a listing): else it fails the job instead."""
    provider = next(p for p in PROVIDERS if profile in p.profiles)
    return bool(getattr(provider.adapter, "lists", False))


def start_profile_simulator(profile: str, *extra: str, time_scale: float = 0.004) -> Proc:
    return start_simulator("--api-key", upstream_key(profile), *extra, profile=profile, time_scale=time_scale)


def upstream_config(profile: str, sim: Proc) -> str:
    base = CATALOG.simulator_profiles()[profile].base_path
    return f"upstreams:\n  - {{url: {sim.url}{base}, api_key_env: {KEY_ENV}, profile: {profile}}}\n"


def start_profile_gateway(
    profile: str, sim: Proc, tmp: Path, store: str, *, port: int | None = None, config: str = FAST_CONFIG
) -> Gateway:
    return start_gateway(
        sim,
        tmp,
        store,
        config=config + upstream_config(profile, sim),
        port=port,
        env={KEY_ENV: upstream_key(profile)},
    )
