"""Operator endpoints: ``/healthz``, ``/readyz``, ``/metrics``, and ``/v1/models``."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.faces.http import tenant_of
from gateway.observability import render_metrics
from gateway.store.base import StoreError


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
    tenant = tenant_of(request)
    ctx = request.app.state.ctx
    caps = ctx.upstream.caps
    options = getattr(ctx.service.planner, "options", None)  # the adaptation the gateway adds on top
    names = {**caps.model_aliases, **caps.model_substitutes}
    data = []
    for model, sizes in caps.models.items():
        if tenant.models is not None and model not in tenant.models:
            continue
        data.append(
            {
                "id": model,
                "object": "model",
                "created": int(time.time()),
                "owned_by": "sora-gateway",
                "capabilities": {
                    "upstream_profile": caps.profile,
                    "sizes": list(sizes),
                    "clip_seconds": list(caps.clip_seconds),
                    "extension_seconds": list(caps.extension_seconds),
                    "endpoints": sorted(caps.endpoints),
                    "usd_per_second": {size: caps.price_per_second(model, size) for size in sizes},
                    "also_answers_to": sorted(name for name, base in names.items() if base == model),
                    "reference_kinds": sorted(caps.reference_kinds),
                    "max_seconds": options.max_seconds if options else max(caps.clip_seconds),
                    "long_videos": "extend" if caps.has("extensions") else "chain",
                    "style_presets": options.styles.names() if options else [],
                    "output_formats": ["mp4", "webm"] if options and options.webm_enabled else ["mp4"],
                },
            }
        )
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
