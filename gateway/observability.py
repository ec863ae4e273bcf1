"""Prometheus metrics (one registry, ``sora_gateway_`` prefix) and structlog JSON logs.

Label values are bounded: routes are templates, tenants come from policy
files, never video ids or prompts.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

REGISTRY = CollectorRegistry(auto_describe=True)
P = "sora_gateway_"

REQUESTS = Counter(P + "requests_total", "Client requests", ["route", "method", "status", "tenant"], registry=REGISTRY)
REQUEST_LATENCY = Histogram(
    P + "request_duration_seconds",
    "Client request latency",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPSTREAM_CALLS = Counter(
    P + "upstream_requests_total", "Calls to the upstream", ["upstream", "operation", "status"], registry=REGISTRY
)
UPSTREAM_LATENCY = Histogram(
    P + "upstream_request_duration_seconds",
    "Upstream call latency",
    ["upstream", "operation"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_TRANSITIONS = Counter(P + "job_transitions_total", "Job state transitions", ["state", "tenant"], registry=REGISTRY)
JOBS_ACTIVE = Gauge(P + "jobs_active", "Jobs this replica is driving", ["state"], registry=REGISTRY)
VIDEO_SECONDS = Counter(P + "video_seconds_total", "Seconds of completed video", ["tenant", "model"], registry=REGISTRY)
COST_USD = Counter(P + "cost_usd_total", "Estimated upstream spend in USD", ["tenant", "model"], registry=REGISTRY)
STORE_ERRORS = Counter(P + "store_errors_total", "Store failures", ["store", "operation"], registry=REGISTRY)
UPSTREAM_PROFILE = Info(P + "upstream_profile", "Detected upstream profile", registry=REGISTRY)
POLLS_ABSORBED = Counter(
    P + "polls_absorbed_total", "Client polls answered from gateway state", ["tenant"], registry=REGISTRY
)

_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]+|(Bearer\s+)\S+", re.IGNORECASE)
_SECRET_KEYS = {"authorization", "api_key", "api-key", "key", "upstream_api_key", "password", "token"}


def redact(value: str) -> str:
    """Mask anything shaped like a key in free text."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", value)


def _scrub(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
        elif isinstance(event[key], str):
            event[key] = redact(event[key])
    return event


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Route structlog (and stdlib logging) to stdout as JSON or console lines."""
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


log = structlog.get_logger("sora_gateway")
