"""Luma AI's Dream Machine API (``api.lumalabs.ai/dream-machine/v1``; ray-2, ray-flash-2): one version,
``luma-dream-machine``. The older of Luma's two APIs (the current one is ``providers/luma/``), with a listing,
a delete and callbacks.

``table.py`` what it offers · ``dialect.py`` the adapter (``answers.py`` its answers read) · ``sim_*.py`` the
simulated API. No probe: detection by host (``hosts``).
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.luma_dream_machine.dialect import LumaDreamMachineUpstream
from gateway.providers.luma_dream_machine.table import PROFILES

PROVIDER = Provider(
    name="luma_dream_machine",
    dialect="luma-dream-machine",
    profiles=PROFILES,
    adapter=LumaDreamMachineUpstream,
    simulator="gateway.providers.luma_dream_machine.sim_profile",
    hosts=("api.lumalabs.ai",),
)
