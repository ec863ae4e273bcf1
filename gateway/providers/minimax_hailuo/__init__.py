"""MiniMax Hailuo video generation (API v1, and v2 for MiniMax-H3): one version, ``minimax-hailuo``.

``table.py`` what each model offers · ``wire.py`` / ``wire_v2.py`` the create bodies (v1 / v2) · ``answers.py`` /
``answers_v2.py`` MiniMax's answers and its codes read · ``dialect.py`` the adapter · ``sim_*.py`` the simulated
API. No probe: MiniMax is recognised by its hosts (``api.minimax.io``, mainland ``api.minimaxi.com``).
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.minimax_hailuo.dialect import MiniMaxHailuoUpstream
from gateway.providers.minimax_hailuo.table import PROFILES

PROVIDER = Provider(
    name="minimax_hailuo",
    dialect="minimax-hailuo",
    profiles=PROFILES,
    adapter=MiniMaxHailuoUpstream,
    simulator="gateway.providers.minimax_hailuo.sim_profile",
    hosts=("api.minimax.io", "api.minimaxi.com"),
)
