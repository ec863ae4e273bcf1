"""Azure OpenAI Sora 1 (the preview "video generation jobs" API): one version, ``azure-sora-1``.

``table.py`` what it offers · ``dialect.py`` the adapter · ``probe.py`` how detection recognises it ·
``sim_*.py`` the simulated resource.
"""

from __future__ import annotations

from gateway.providers.azure_sora1.dialect import AzureSora1Upstream
from gateway.providers.azure_sora1.probe import probe
from gateway.providers.azure_sora1.table import PROFILES
from gateway.providers.base import Provider

PROVIDER = Provider(
    name="azure_sora1",
    dialect="azure",
    profiles=PROFILES,
    adapter=AzureSora1Upstream,
    probe=probe,
    simulator="gateway.providers.azure_sora1.sim_profile",
    hosts=(".openai.azure.com",),
)
