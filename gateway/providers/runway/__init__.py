"""Runway's developer API (``api.dev.runwayml.com``): one version, ``runway`` (``X-Runway-Version: 2024-11-06``).

``table.py`` what it offers · ``dialect.py`` the adapter (``answers.py`` its answers read, ``images.py``
its image input) · ``sim_*.py`` the simulated API. No probe: nothing free tells Runway apart from
another host but its hostname.
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.runway.dialect import RunwayUpstream
from gateway.providers.runway.table import PROFILES

PROVIDER = Provider(
    name="runway",
    dialect="runway",
    profiles=PROFILES,
    adapter=RunwayUpstream,
    simulator="gateway.providers.runway.sim_profile",
    hosts=("api.dev.runwayml.com",),
)
