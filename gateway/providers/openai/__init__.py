"""OpenAI's Videos API (``/v1/videos``): two versions, ``openai-2025-10`` and ``openai-2026-03``.

``table.py`` what each version offers · ``dialect.py`` the adapter · ``probe.py`` how detection
tells the versions apart · ``sim_*.py`` the simulated API.
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.openai.dialect import OpenAIVideosUpstream
from gateway.providers.openai.probe import probe
from gateway.providers.openai.table import PROFILES

PROVIDER = Provider(
    name="openai",
    dialect="openai",
    profiles=PROFILES,
    adapter=OpenAIVideosUpstream,
    probe=probe,
    probe_last=True,  # any OpenAI-compatible URL answers it: the others' probes go first
    simulator="gateway.providers.openai.sim_profile",
    hosts=("api.openai.com",),
)
