"""Alibaba Model Studio (DashScope), Wan video synthesis: one version, ``dashscope-wan``.

``table.py`` what each Wan model offers and which body it gets · ``wire.py`` the create body · ``answers.py``
DashScope's answers read · ``dialect.py`` the adapter · ``sim_*.py`` the simulated API. No probe: DashScope is
recognised by its host (``dashscope-intl.aliyuncs.com`` and the other regions, workspace domains under
``maas.aliyuncs.com``).
"""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.providers.dashscope_wan.dialect import DashScopeWanUpstream
from gateway.providers.dashscope_wan.table import PROFILES

PROVIDER = Provider(
    name="dashscope_wan",
    dialect="dashscope-wan",
    profiles=PROFILES,
    adapter=DashScopeWanUpstream,
    simulator="gateway.providers.dashscope_wan.sim_profile",
    hosts=("dashscope-intl.aliyuncs.com", "dashscope.aliyuncs.com", "dashscope-us.aliyuncs.com", ".maas.aliyuncs.com"),
)
