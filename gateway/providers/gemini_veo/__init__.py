"""Google Veo on the Gemini API: one profile, ``gemini-veo``.

``table.py`` what each Veo model offers · ``wire.py`` its request and operation format · ``errors.py``
Google's refusals · ``download.py`` fetching a video · ``dialect.py`` the adapter · ``sim_*.py`` the
simulated Gemini API. No probe: the Gemini API is recognised by its host.
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.gemini_veo.dialect import GeminiVeoUpstream
from gateway.providers.gemini_veo.table import PROFILES

PROVIDER = Provider(
    name="gemini_veo",
    dialect="veo",
    profiles=PROFILES,
    adapter=GeminiVeoUpstream,
    simulator="gateway.providers.gemini_veo.sim_profile",
    hosts=("generativelanguage.googleapis.com",),
)
