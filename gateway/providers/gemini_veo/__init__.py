"""Google Veo on the Gemini API: one profile, ``gemini-veo``.

``table.py`` what each Veo model offers · ``wire.py`` its request and operation format · ``errors.py``
Google's refusals · ``download.py`` fetching a video · ``dialect.py`` the adapter · ``sim_*.py`` the
simulated Gemini API. No probe: the Gemini API is recognised by its host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.providers.base import Provider
from gateway.providers.gemini_veo.dialect import GeminiVeoUpstream
from gateway.providers.gemini_veo.table import PROFILES

if TYPE_CHECKING:
    from gateway.simulator.profile import SimProfile


def simulator() -> Sequence[SimProfile]:
    from gateway.providers.gemini_veo.sim_profile import SIM_PROFILES

    return SIM_PROFILES


PROVIDER = Provider(
    name="gemini_veo",
    dialect="veo",
    profiles=PROFILES,
    adapter=GeminiVeoUpstream,
    simulator=simulator,
    hosts=("generativelanguage.googleapis.com",),
)
