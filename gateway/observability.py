"""Prometheus metrics (one registry, ``sora_gateway_`` prefix) and structlog logs.

Label values are bounded: routes are templates, tenants come from policy
files, states and operations are fixed sets; never video ids or prompts.

With ``--workers > 1`` the server sets ``PROMETHEUS_MULTIPROC_DIR`` before any
worker imports prometheus-client; every metric then lives in mmap files and
``/metrics`` merges all workers (:func:`render_metrics`). Gauges say how they
merge (``multiprocess_mode``); ``Info`` does not work in that mode, so the
upstream profile is an ``_info`` gauge with value 1 (the Prometheus convention).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.logsink import LineSink

REGISTRY = CollectorRegistry(auto_describe=True)
P = "sora_gateway_"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

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
UPSTREAM_CALLBACKS = Counter(  # provider callbacks received: refused (forged, unknown), handshake, end, alive, ignored
    P + "upstream_callbacks_total", "Provider callbacks received, by result", ["result"], registry=REGISTRY
)
JOB_TRANSITIONS = Counter(P + "job_transitions_total", "Job state transitions", ["state", "tenant"], registry=REGISTRY)
JOBS = Gauge(
    P + "jobs",
    "Active jobs this replica drives (holds the lease of), by state and tenant; sum over replicas = all active jobs",
    ["state", "tenant"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
JOBS_OLDEST = Gauge(
    P + "jobs_oldest_active_seconds",
    "Age of the oldest active job this replica drives (0 when none)",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
VIDEO_SECONDS = Counter(
    P + "video_seconds_total",
    "Video seconds generated upstream for completed videos: what usage (video_seconds_today) and the "
    "video_seconds_per_day quota count, seconds the stitcher trims included; cache hits and coalesced "
    "creates add nothing (see delivered_seconds_total)",
    ["tenant", "model"],
    registry=REGISTRY,
)
DELIVERED_SECONDS = Counter(
    P + "delivered_seconds_total",
    "Seconds of completed video handed to clients (each video's own length, after trimming), cache hits "
    "and coalesced creates included",
    ["tenant", "model"],
    registry=REGISTRY,
)
COST_USD = Counter(
    P + "cost_usd_total",
    "Estimated upstream spend in USD of completed videos: generated seconds at list price (a video's cost_usd)",
    ["tenant", "model"],
    registry=REGISTRY,
)
STORE_ERRORS = Counter(P + "store_errors_total", "Store failures", ["store", "operation"], registry=REGISTRY)
STORE_UP = Gauge(
    P + "store_up",
    "1 when the last store operation succeeded, 0 when it failed",
    ["store"],
    registry=REGISTRY,
    multiprocess_mode="livemin",
)
PREVIEWS_DERIVED = Counter(  # thumbnails and spritesheets the gateway made from the video (provider made none)
    P + "previews_derived_total", "Previews derived from finished videos", ["variant", "result"], registry=REGISTRY
)
LOG_WRITES_DROPPED = Counter(  # the log's writer fell behind (stdout not drained): logsink.py
    P + "log_writes_dropped_total", "Log writes dropped because stdout did not take them in time", registry=REGISTRY
)
POLLS_ABSORBED = Counter(
    P + "polls_absorbed_total", "Client polls answered from gateway state", ["tenant"], registry=REGISTRY
)
BUILD_INFO = Gauge(
    P + "build_info", "Running gateway version", ["version"], registry=REGISTRY, multiprocess_mode="livemax"
)
BUILD_INFO.labels(__version__).set(1)


def _multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class InfoGauge:
    """An info metric (``name_info{...} 1``) that also works in multiprocess mode; ``.info(dict)`` replaces it."""

    def __init__(self, name: str, documentation: str, labelnames: list[str]) -> None:
        self.gauge = Gauge(name, documentation, labelnames, registry=REGISTRY, multiprocess_mode="livemax")
        self.labelnames = labelnames
        self._current: tuple[str, ...] | None = None

    def info(self, labels: dict[str, str]) -> None:
        values = tuple(str(labels.get(n, "")) for n in self.labelnames)
        if self._current is not None and self._current != values:
            if _multiprocess():
                self.gauge.labels(*self._current).set(0)
            else:
                self.gauge.remove(*self._current)
        self.gauge.labels(*values).set(1)
        self._current = values


UPSTREAM_PROFILE = InfoGauge(P + "upstream_profile_info", "Detected upstream profile", ["profile", "dialect", "source"])

LimitSource = Callable[[], Iterable[tuple[str, str, float]]]


class TenantLimits(Collector):
    """``sora_gateway_tenant_quota_limit{tenant,limit}`` read from the policies in force at scrape time."""

    def __init__(self) -> None:
        self.source: LimitSource | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            P + "tenant_quota_limit", "Quota limits from the tenant policy files", labels=["tenant", "limit"]
        )
        for tenant, limit, value in self.source() if self.source else ():
            family.add_metric([tenant, limit], float(value))
        yield family


TENANT_LIMITS = TenantLimits()
REGISTRY.register(TENANT_LIMITS)


def render_metrics() -> bytes:
    """The exposition text: this process's registry, or every worker's files in multiprocess mode."""
    if not _multiprocess():
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    merged.register(TENANT_LIMITS)  # policy data: identical in every worker
    return generate_latest(merged)


class DrivenJobs:
    """The jobs one replica drives, published as :data:`JOBS` and :data:`JOBS_OLDEST`.

    A job is counted by the replica that holds its lease, so summing over
    replicas counts every active job once; a dead replica's series vanish with
    its scrape target (and, across workers, with ``livesum``).
    """

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[str, str, float]] = {}
        self._published: set[tuple[str, str]] = set()

    def track(self, job_id: str, state: str, tenant: str, created_at: float) -> None:
        self._jobs[job_id] = (state, tenant, created_at)

    def forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def keep_only(self, ids: Iterable[str]) -> None:
        keep = set(ids)
        for job_id in [j for j in self._jobs if j not in keep]:
            del self._jobs[job_id]

    def clear(self) -> None:
        self._jobs.clear()

    def publish(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for state, tenant, _ in self._jobs.values():
            counts[(state, tenant)] = counts.get((state, tenant), 0) + 1
        for key in self._published - set(counts):
            JOBS.labels(*key).set(0)
        for key, n in counts.items():
            JOBS.labels(*key).set(n)
        self._published |= set(counts)
        oldest = min((c for _, _, c in self._jobs.values()), default=None)
        JOBS_OLDEST.set(max(0.0, time.time() - oldest) if oldest is not None else 0.0)


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}
MAX_CHILDREN = 4096  # label sets are bounded (routes, statuses, teams, models); this bounds the cache anyway


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: ``labels()`` validates and locks (~5 us) on every call.
    Only for metrics whose children are never removed (counters, histograms)."""
    key = (id(metric), labels)
    found = _CHILDREN.get(key)
    if found is None:
        if len(_CHILDREN) >= MAX_CHILDREN:
            _CHILDREN.clear()
        found = _CHILDREN[key] = metric.labels(*labels)
    return found


# -- logs --------------------------------------------------------------------

_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]+|(Bearer\s+)\S+", re.IGNORECASE)
_CALLBACK_TOKEN = re.compile(r"(/upstream-callbacks/[^/\s]+/[^/\s]+/)[^/\s?#\"']+")  # a job's callback secret
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/?#@\"']+@", re.IGNORECASE)  # http://user:pass@host
_SECRET_KEYS = {"authorization", "api_key", "api-key", "key", "upstream_api_key", "admin_key", "password", "token"}
_KNOWN_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it would appear in a log line (the upstream key, the admin key)."""
    if value and len(value) >= 8:
        _KNOWN_SECRETS.add(value)


def may_hold_secret(value: str) -> bool:
    """Whether ``value`` has what any pattern above needs to match at all (most text — ids, routes, paths — has
    not: four substring tests instead of three substitutions)."""
    low = value.lower()
    if "sk-" in low or "bearer" in low or "://" in low or "/upstream-callbacks/" in low:
        return True
    return any(secret in value for secret in _KNOWN_SECRETS)


def redact(value: str) -> str:
    """Mask anything shaped like a key, a URL's userinfo, or registered as a secret, in free text."""
    if not may_hold_secret(value):
        return value
    value = _URL_USERINFO.sub(r"\1***@", value)
    value = _CALLBACK_TOKEN.sub(r"\1***", value)
    for secret in _KNOWN_SECRETS:
        if secret in value:
            value = value.replace(secret, "***")
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", value)


def _scrub(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
        elif isinstance(event[key], str):
            event[key] = redact(event[key])
    return event


def _drop_none(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Console lines are for people: leave out the fields that have no value."""
    return {k: v for k, v in event.items() if v is not None}


def _server_logger_name(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """uvicorn logs its ordinary start-up and shut-down lines as ``uvicorn.error``: call them ``uvicorn``."""
    if event.get("logger") == "uvicorn.error":
        event["logger"] = "uvicorn"
    return event


@dataclass
class LogSetup:
    """What :func:`configure_logging` chose, for :mod:`gateway.accesslog`'s direct lines."""

    json_stream: TextIO | None = None  # JSON lines go to this stream; None: not configured, or console lines
    info: bool = True  # info lines are logged


LOG_SETUP = LogSetup()
LEVELS = ("debug", "info", "warning", "error", "critical")
QUIET_LOGGERS = ("uvicorn.access", "httpx", "httpcore", "multipart")


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Every log line to stdout, one JSON object per line (or console lines): structlog and stdlib alike.

    Processors: context (request id, ...), level, ISO UTC time, exception text,
    then the scrubber (keys and registered secrets masked), then the renderer.
    """
    lvl = getattr(logging, level.upper(), logging.INFO)
    console = fmt == "console"
    out = _sink_for(sys.stdout)
    LOG_SETUP.json_stream, LOG_SETUP.info = (None if console else out), lvl <= logging.INFO
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
        if console
        else structlog.processors.JSONRenderer()
    )
    tidy: list[Any] = [_drop_none] if console else []
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _scrub, *tidy, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,  # a logger is built once, not on every call (the access log is hot)
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _server_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _scrub,
                *tidy,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(lvl)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))


_SINKS: dict[int, LineSink] = {}


def _sink_for(stream: TextIO) -> LineSink:
    """One writer thread per stream, however often logging is configured."""
    sink = _SINKS.get(id(stream))
    if sink is None or sink.stream is not stream:
        sink = _SINKS[id(stream)] = LineSink(stream, on_drop=LOG_WRITES_DROPPED.inc)
    return sink


def _plain_tracebacks_by_default() -> None:
    """Before :func:`configure_logging` runs (library use, unit tests), structlog's default console renderer
    would draw tracebacks with rich (installed for the client command): slow, and it prints the frames'
    local variables, which :func:`_scrub` never sees. Keep structlog's defaults but plain tracebacks."""
    if structlog.is_configured():
        return
    processors = list(structlog.get_config()["processors"])
    if processors and isinstance(processors[-1], structlog.dev.ConsoleRenderer):
        processors[-1] = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        structlog.configure(processors=processors)


_plain_tracebacks_by_default()
log = structlog.get_logger("sora_gateway")
