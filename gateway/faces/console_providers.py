"""Provider tiles for the console (admin): each configured upstream at a glance.

Profile, detection, breaker, queue (running, waiting, the concurrency limit and whether it was learnt),
latency and error rate of this replica's calls to it (from its in-process counters, not ``/metrics``),
and spend over the last day (``pipeline/console_stats.py``, shared by every replica). ``level`` is
``ok``, ``amber`` or ``red``: red when undetected or the breaker is open, amber when half-open, paused,
failing now and then (>= 5 % of calls) or slow (p50 >= 5 s).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from gateway.observability import UPSTREAM_CALLS, UPSTREAM_LATENCY


def _calls() -> dict[str, dict[str, float]]:
    """Per upstream label: calls, errors (5xx, 429 and unreachable) and a latency histogram."""
    out: dict[str, dict[str, Any]] = {}
    for metric in UPSTREAM_CALLS.collect():
        for s in metric.samples:
            if not s.name.endswith("_total"):
                continue
            row = out.setdefault(s.labels["upstream"], {"calls": 0.0, "errors": 0.0, "buckets": {}, "sum": 0.0})
            row["calls"] += s.value
            status = s.labels["status"]
            if not status.isdigit() or status.startswith("5") or status == "429":
                row["errors"] += s.value
    for metric in UPSTREAM_LATENCY.collect():
        for s in metric.samples:
            row = out.setdefault(s.labels["upstream"], {"calls": 0.0, "errors": 0.0, "buckets": {}, "sum": 0.0})
            if s.name.endswith("_bucket"):
                le = float(s.labels["le"])
                row["buckets"][le] = row["buckets"].get(le, 0.0) + s.value
            elif s.name.endswith("_sum"):
                row["sum"] += s.value
    return out


def _p50(buckets: dict[float, float]) -> float | None:
    total = max(buckets.values(), default=0.0)
    if not total:
        return None
    for le in sorted(buckets):
        if buckets[le] >= total / 2:
            return le
    return None


async def providers(request: Request) -> dict[str, Any]:
    ctx = request.app.state.ctx
    router = ctx.upstream
    routes = getattr(router, "routes", None) or [router]
    queue = getattr(ctx.driver, "queue", None)
    lanes: dict[str, Any] = queue.status().get("upstreams", {}) if queue is not None else {}
    stats = ctx.service.stats
    spend: dict[str, Any] = (await stats.series("day", None))["providers"] if stats is not None else {}
    calls = _calls()
    tiles = []
    for route in routes:
        seen = [calls[k] for k in {route.name, route.caps.profile, route.caps.dialect} if k in calls]
        n = sum(r["calls"] for r in seen)
        errors = sum(r["errors"] for r in seen)
        merged: dict[float, float] = {}
        for r in seen:
            for le, v in r["buckets"].items():
                merged[le] = merged.get(le, 0.0) + v
        breaker = route.breaker.status() if route.breaker is not None else None
        lane = lanes.get(route.name, {})
        used = spend.get(route.caps.profile, {})
        tile = {
            "name": route.name,
            "profile": route.caps.profile,
            "dialect": route.caps.dialect,
            "models": list(route.caps.models),
            "detected": route.detected_at is not None,
            "error": route.last_error,
            "breaker": breaker["state"] if breaker else "none",
            "failures_in_a_row": breaker["failures_in_a_row"] if breaker else 0,
            "calls": int(n),
            "error_rate": round(errors / n, 4) if n else None,
            "latency_p50_s": _p50(merged),
            "latency_mean_s": round(sum(r["sum"] for r in seen) / n, 4) if n else None,
            "queue": {
                "running": lane.get("running", 0),
                "waiting": lane.get("waiting", 0),
                "limit": lane.get("limit"),
                "limit_source": lane.get("source"),
                "paused_s": lane.get("paused_s", 0.0),
            },
            "spend_usd_today": round(used.get("spend_usd", 0.0), 6),
            "video_seconds_today": round(used.get("video_seconds", 0.0), 3),
            "completed_today": int(used.get("completed", 0)),
            "failed_today": int(used.get("failed", 0)),
        }
        tile["level"] = _level(tile)
        tiles.append(tile)
    return {"object": "list", "data": tiles}


def _level(tile: dict[str, Any]) -> str:
    if not tile["detected"] or tile["breaker"] == "open":
        return "red"
    rate, p50 = tile["error_rate"], tile["latency_p50_s"]
    if (
        tile["breaker"] == "half_open"
        or tile["queue"]["paused_s"]
        or (rate is not None and rate >= 0.05)
        or (p50 is not None and p50 >= 5)
    ):
        return "amber"
    return "ok"
