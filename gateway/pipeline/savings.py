"""What the cache, coalescing and poll absorption saved, per tenant (Prometheus, ``sora_gateway_*``).

Absorbed polls are counted where they happen (``sora_gateway_polls_absorbed_total`` in
:mod:`gateway.observability`); an upstream poll costs no dollars, so they add nothing here.
"""

from __future__ import annotations

from prometheus_client import Counter

from gateway.observability import REGISTRY

P = "sora_gateway_"
OUTCOMES = ("hit", "miss", "coalesced", "bypass", "off")

CACHE_EVENTS = Counter(
    P + "cache_events_total",
    "Creates by cache outcome: hit, miss, coalesced, bypass (client asked), off (tenant has no cache)",
    ["tenant", "outcome"],
    registry=REGISTRY,
)
SAVED_USD = Counter(
    P + "saved_usd_total",
    "Estimated upstream spend avoided, in USD: reason cache_hit or coalesced",
    ["tenant", "reason"],
    registry=REGISTRY,
)


def record(tenant: str, outcome: str, saved_usd: float = 0.0) -> None:
    CACHE_EVENTS.labels(tenant, outcome).inc()
    if saved_usd > 0:
        SAVED_USD.labels(tenant, "cache_hit" if outcome == "hit" else outcome).inc(saved_usd)
