"""The Starlette app factory: wires faces, pipeline, stores and upstream. Nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from gateway.config import Settings
from gateway.content import LocalContentStore
from gateway.errors import ApiError
from gateway.faces import characters, openai_videos, ops
from gateway.faces.http import error_response
from gateway.jobs.driver import JobDriver
from gateway.middleware import GatewayMiddleware
from gateway.observability import log
from gateway.pipeline.auth import Authenticator
from gateway.pipeline.service import VideoService
from gateway.policies.holder import PolicyHolder
from gateway.store import open_store
from gateway.store.base import JobStore
from gateway.upstreams.runtime import UpstreamRuntime

HTTP_CODES = {
    404: ("not_found", "Unknown request URL: {method} {path}."),
    405: ("method_not_allowed", "Method {method} is not allowed for {path}."),
}


@dataclass
class Context:
    """Everything a request handler may reach, built once per process."""

    settings: Settings
    store: JobStore
    upstream: UpstreamRuntime
    content: LocalContentStore
    driver: JobDriver
    service: VideoService
    policies: PolicyHolder
    auth: Authenticator
    extra_ready_checks: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    closers: list[Callable[[], Any]] = field(default_factory=list)


def build_context(settings: Settings) -> Context:
    store = open_store(settings.store)
    upstream = UpstreamRuntime(
        settings.upstream,
        settings.upstream_api_key,
        pinned=settings.upstream_profile,
        interval_s=settings.detect_interval_s,
    )
    content = LocalContentStore(Path(settings.data_dir) / "content")
    driver = JobDriver(
        store,
        upstream.current,
        content,
        owner=settings.replica_id,
        lease_ttl_s=settings.lease_ttl_s,
        tick_s=settings.driver_tick_s,
        poll_min_s=settings.poll_min_s,
        poll_max_s=settings.poll_max_s,
        max_attempts=settings.max_segment_attempts,
        retention_s=settings.retention_s,
    )
    policies = PolicyHolder(settings.policies, required=not settings.allow_anonymous)
    auth = Authenticator(policies.current, allow_anonymous=settings.allow_anonymous)
    service = VideoService(store, upstream, driver, content)
    ctx = Context(settings, store, upstream, content, driver, service, policies, auth)
    ctx.extra_ready_checks["policies"] = policies.status
    return ctx


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, template = HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    message = template.format(method=request.method, path=request.url.path)
    return error_response(ApiError(exc.status_code, message, code=code), dict(exc.headers or {}))


def create_app(settings: Settings, *, context: Context | None = None) -> Starlette:
    ctx = context or build_context(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ctx.policies.load_or_exit()
        await ctx.upstream.start()
        await ctx.driver.start()
        log.info(
            "gateway_started",
            upstream=settings.upstream,
            profile=ctx.upstream.caps.profile,
            store=ctx.store.url,
            replica=settings.replica_id,
            tenants=len(ctx.policies.current().tenants),
        )
        try:
            yield
        finally:
            log.info("gateway_stopping", replica=settings.replica_id)
            await ctx.driver.stop(settings.shutdown_grace_s)
            for closer in ctx.closers:
                await closer()
            await ctx.upstream.close()
            await ctx.store.close()

    app = Starlette(
        routes=[*ops.routes, *characters.routes, *openai_videos.routes],
        middleware=[Middleware(GatewayMiddleware, max_body_bytes=settings.max_body_bytes)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
