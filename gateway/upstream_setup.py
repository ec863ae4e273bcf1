"""The upstream router the settings describe, speaking to the providers of the catalog."""

from __future__ import annotations

import os

from gateway.config import Settings
from gateway.observability import register_secret
from gateway.providers import CATALOG
from gateway.upstreams.breaker import Breaker
from gateway.upstreams.catalog import Catalog
from gateway.upstreams.routing import UpstreamRouter, route_name
from gateway.upstreams.runtime import UpstreamRuntime


def router_from_settings(settings: Settings, catalog: Catalog = CATALOG) -> UpstreamRouter:
    """``upstreams:`` in order of preference (each with its circuit breaker), or the one ``upstream``."""
    entries = settings.upstreams or [{"url": settings.upstream}]
    routes: list[UpstreamRuntime] = []
    for index, entry in enumerate(entries):
        key = os.environ.get(entry["api_key_env"], "") if "api_key_env" in entry else settings.upstream_api_key
        register_secret(key)  # masked in every log line, like the main key
        name = route_name(entry["url"], index, [r.name for r in routes]) if settings.upstreams else "default"
        routes.append(
            UpstreamRuntime(
                entry["url"],
                key,
                catalog=catalog,
                pinned=entry.get("profile") if settings.upstreams else settings.upstream_profile,
                model_map={**(settings.model_map or {}), **(entry.get("model_map") or {})},
                interval_s=settings.detect_interval_s,
                name=name,
                breaker=Breaker(name, failures=settings.breaker_failures, open_s=settings.breaker_open_s),
            )
        )
    return UpstreamRouter(routes)
