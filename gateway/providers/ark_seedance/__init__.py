"""ByteDance Seedance on BytePlus ModelArk (Ark's content-generation tasks): one version, ``ark-seedance``.

``table.py`` what it offers · ``wire.py`` the create body and the task read · ``errors.py`` its refusals ·
``dialect.py`` the adapter · ``sim_*.py`` the simulated API. No probe: detection by host (``hosts``).
"""

from __future__ import annotations

from gateway.providers.ark_seedance.dialect import ArkSeedanceUpstream
from gateway.providers.ark_seedance.table import PROFILES
from gateway.providers.base import Provider

PROVIDER = Provider(
    name="ark_seedance",
    dialect="ark",
    profiles=PROFILES,
    adapter=ArkSeedanceUpstream,
    simulator="gateway.providers.ark_seedance.sim_profile",
    # Seedance runs in ap-southeast-1 only (eu-west-1 has other models); Volcengine's Ark names the same models
    # ``doubao-...``, which this table does not list
    hosts=("ark.ap-southeast.bytepluses.com", "ark.eu-west.bytepluses.com"),
)
