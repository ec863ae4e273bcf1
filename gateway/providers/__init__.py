"""The provider catalog: every upstream the gateway can speak to, one folder each.

Adding a provider is a folder beside these (see ``base.py`` and the README's "Adding a provider")
and one line in ``PROVIDERS``. The order matters twice: profiles are listed in it (``--profile``
choices, error messages), and detection tries the providers' probes in it (a baseline probe that
concludes for any URL last).
"""

from __future__ import annotations

from gateway.core.capabilities import Capabilities
from gateway.providers import (
    ark_seedance,
    azure_sora1,
    dashscope_wan,
    gemini_veo,
    kling,
    luma,
    luma_dream_machine,
    minimax_hailuo,
    openai,
    runway,
)
from gateway.providers.base import Provider, ProviderCatalog

PROVIDERS: list[Provider] = [
    openai.PROVIDER,
    azure_sora1.PROVIDER,
    gemini_veo.PROVIDER,
    kling.PROVIDER,
    runway.PROVIDER,
    dashscope_wan.PROVIDER,
    ark_seedance.PROVIDER,
    luma.PROVIDER,
    luma_dream_machine.PROVIDER,
    minimax_hailuo.PROVIDER,
]

CATALOG = ProviderCatalog(PROVIDERS, default_profile="openai-2025-10")
PROFILES: dict[str, Capabilities] = CATALOG.profiles  # profile name -> what that version can do
DEFAULT_PROFILE = CATALOG.default_profile


def get_profile(name: str) -> Capabilities:
    """The capabilities of profile ``name``; ``ValueError`` naming the known profiles for any other."""
    return CATALOG.capabilities(name)


__all__ = ["CATALOG", "DEFAULT_PROFILE", "PROFILES", "PROVIDERS", "Provider", "get_profile"]
