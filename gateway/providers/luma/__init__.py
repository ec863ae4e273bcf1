"""Luma AI's Agents API (``agents.lumalabs.ai/v1``), video generation with ``ray-3.2``: one version, ``luma``.

``table.py`` what it offers · ``dialect.py`` the adapter (``answers.py`` its answers read, ``images.py`` its
image input) · ``sim_*.py`` the simulated API. No probe: nothing free tells Luma apart from another host but its
hostname.
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.luma.dialect import LumaUpstream
from gateway.providers.luma.table import PROFILES

PROVIDER = Provider(
    name="luma",
    dialect="luma",
    profiles=PROFILES,
    adapter=LumaUpstream,
    simulator="gateway.providers.luma.sim_profile",
    hosts=("agents.lumalabs.ai",),
)
