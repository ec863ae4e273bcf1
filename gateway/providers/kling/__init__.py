"""Kling AI (Kuaishou), its classic task API: one version, ``kling``.

``table.py`` what it offers · ``credentials.py`` the JWT it authenticates with · ``errors.py`` its refusals ·
``dialect.py`` the adapter · ``sim_*.py`` the simulated API. No probe: detection by host (``hosts``).
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.kling.dialect import KlingUpstream
from gateway.providers.kling.table import PROFILES

PROVIDER = Provider(
    name="kling",
    dialect="kling",
    profiles=PROFILES,
    adapter=KlingUpstream,
    simulator="gateway.providers.kling.sim_profile",
    hosts=("api-singapore.klingai.com", "api-beijing.klingai.com", "api.klingai.com"),
)
