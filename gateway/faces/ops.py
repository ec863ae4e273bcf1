"""Operator endpoints: ``/healthz``, ``/readyz``, ``/metrics``, and ``/v1/models``."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.core.model_list import Listing, model_entries
from gateway.faces.http import tenant_of
from gateway.observability import render_metrics
from gateway.store.base import StoreError

STARTED = int(time.time())  # the models' ``created``: when this process started (stable across calls)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ctx = request.app.state.ctx
    checks: dict[str, object] = {}
    ok = True
    try:
        await ctx.store.ping()
        checks["store"] = {"ok": True, "url": ctx.store.url}
    except StoreError as exc:
        ok = False
        checks["store"] = {"ok": False, "url": ctx.store.url, "error": str(exc)}
    upstream = ctx.upstream.status()
    upstream_ok = upstream["error"] is None and upstream["detected_at"] is not None
    ok = ok and upstream_ok
    checks["upstream"] = {"ok": upstream_ok, **upstream}
    for name, check in ctx.extra_ready_checks.items():
        checks[name] = result = check()
        ok = ok and bool(result.get("ok", True))
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)  # every worker's, with --workers > 1


async def list_models(request: Request) -> Response:
    """The Sora names and every configured upstream's own models (``gateway.core.model_list``), in the OpenAI
    list shape; a tenant with a ``models:`` list sees what it may use."""
    tenant = tenant_of(request)
    ctx = request.app.state.ctx
    options = getattr(ctx.service.planner, "options", None)  # the adaptation the gateway adds on top
    listing = (
        Listing(
            max_seconds=options.max_seconds,
            style_presets=tuple(options.styles.names()),
            output_formats=("mp4", "webm") if options.webm_enabled else ("mp4",),
        )
        if options
        else Listing()
    )
    data = model_entries([route.caps for route in ctx.upstream.routes], listing, tenant.models, STARTED)
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
