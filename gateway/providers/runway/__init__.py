"""Runway's developer API (``api.dev.runwayml.com``): one version, ``runway`` (``X-Runway-Version: 2024-11-06``).

``table.py`` what it offers · ``dialect.py`` the adapter (``answers.py`` its answers read, ``images.py``
its image input) · ``sim_*.py`` the simulated API. No probe: nothing free tells Runway apart from
another host but its hostname.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.providers.base import Provider
from gateway.providers.runway.dialect import RunwayUpstream
from gateway.providers.runway.table import PROFILES

if TYPE_CHECKING:
    from gateway.simulator.profile import SimProfile


def simulator() -> Sequence[SimProfile]:
    from gateway.providers.runway.sim_profile import SIM_PROFILES

    return SIM_PROFILES


PROVIDER = Provider(
    name="runway",
    dialect="runway",
    profiles=PROFILES,
    adapter=RunwayUpstream,
    simulator=simulator,
    hosts=("api.dev.runwayml.com",),
)
