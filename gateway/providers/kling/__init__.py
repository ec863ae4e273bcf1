"""Kling AI (Kuaishou), its classic task API: one version, ``kling``.

``table.py`` what it offers · ``credentials.py`` the JWT it authenticates with · ``errors.py`` its refusals ·
``dialect.py`` the adapter · ``sim_*.py`` the simulated API. No probe: detection by host (``hosts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.providers.base import Provider
from gateway.providers.kling.dialect import KlingUpstream
from gateway.providers.kling.table import PROFILES

if TYPE_CHECKING:
    from gateway.simulator.profile import SimProfile


def simulator() -> Sequence[SimProfile]:
    from gateway.providers.kling.sim_profile import SIM_PROFILES

    return SIM_PROFILES


PROVIDER = Provider(
    name="kling",
    dialect="kling",
    profiles=PROFILES,
    adapter=KlingUpstream,
    simulator=simulator,
    hosts=("api-singapore.klingai.com", "api-beijing.klingai.com", "api.klingai.com"),
)
