"""The planner the service uses: :func:`gateway.core.plan.plan_request` with the gateway's options, counted.

The core stays free of metrics; what it adapted is counted here, per field and per strategy.
"""

from __future__ import annotations

from prometheus_client import Counter

from gateway.core.capabilities import Capabilities
from gateway.core.models import VideoRequest
from gateway.core.plan import Plan, PlanOptions, adaptation_kind, plan_request
from gateway.observability import REGISTRY

ADAPTATIONS = Counter(
    "sora_gateway_adaptations_total", "Request fields the gateway adapted, by field", ["kind"], registry=REGISTRY
)
SEGMENT_PLANS = Counter(
    "sora_gateway_segment_plans_total",
    "Plans made, by strategy (single, chain, extend)",
    ["strategy"],
    registry=REGISTRY,
)


class Planner:
    """``plan_request`` with the gateway's options, counting what it adapts."""

    def __init__(self, options: PlanOptions | None = None) -> None:
        self.options = options or PlanOptions()

    def __call__(self, req: VideoRequest, caps: Capabilities, *, allowed_models: list[str] | None = None) -> Plan:
        return record(plan_request(req, caps, self.options, allowed_models=allowed_models))


def record(plan: Plan) -> Plan:
    """Count a plan the service will run (its adaptations, its strategy)."""
    for note in plan.adapted:
        ADAPTATIONS.labels(adaptation_kind(note)).inc()
    SEGMENT_PLANS.labels(plan.strategy).inc()
    return plan
