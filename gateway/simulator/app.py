"""The simulator's ASGI app: the ``/_sim`` routes, then the current profile's provider.

One Starlette app per provider holds that provider's routes and answers every refusal (an unknown
route, a wrong method, a fault, an unexpected error) in its envelope. Anything that is not a
``/_sim`` route goes to the app of the profile imitated now, so ``/_sim/profile`` switches the
whole API surface at run time.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from gateway.simulator import ops
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.content import ContentStore
from gateway.simulator.errors import SimError
from gateway.simulator.faults import drop_connections
from gateway.simulator.guard import sim_of
from gateway.simulator.profile import SimProfile
from gateway.simulator.state import SimState

log = logging.getLogger("gateway.simulator")


class RequestIds:
    """Adds ``x-request-id`` to every response, as the real APIs do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", ("req_" + secrets.token_hex(16)).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_id)


class SimulatorApp(Starlette):
    """A Starlette app whose outermost layer turns the ``reset`` fault into a dropped connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await drop_connections(super().__call__)(scope, receive, send)


class CurrentProvider:
    """Hands a request to the app of the current profile's provider."""

    def __init__(self, state: SimState, apps: Mapping[str, ASGIApp]) -> None:
        self.state = state
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.apps[self.state.profile.provider](scope, receive, send)


Render = Callable[[Request, SimError], Response]


def _engine_shape(request: Request, error: SimError) -> Response:
    return error.response()


def _profile_shape(request: Request, error: SimError) -> Response:
    return sim_of(request).profile.error_response(error)


def _allowed_methods(routes: Sequence[BaseRoute], path: str) -> list[str]:
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


def handlers(render: Render, routes: Callable[[Request], Sequence[BaseRoute]]) -> dict[Any, ExceptionHandler]:
    """Every refusal of a layer rendered by ``render``: its own, an unknown route, a wrong method, a crash."""

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SimError)
        return render(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return render(request, sim_of(request).profile.unknown_route(request.method, request.url.path))
        if exc.status_code == 405:
            allow = ", ".join(_allowed_methods(routes(request), request.url.path))
            message = f"Method {request.method} is not allowed for {request.url.path}."
            return render(request, SimError(405, message, code="method_not_allowed", headers={"Allow": allow}))
        return render(request, SimError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))

    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unexpected simulator error", exc_info=exc)
        return render(
            request, SimError(500, "The server had an error while processing your request.", type="server_error")
        )

    return {SimError: refused, HTTPException: http_error, Exception: crashed}


def provider_app(routes: Sequence[BaseRoute]) -> ASGIApp:
    """One provider's routes, every refusal in the current profile's envelope."""
    return ExceptionMiddleware(Router(routes=list(routes)), handlers=handlers(_profile_shape, lambda request: routes))


def build_app(config: SimulatorConfig, profiles: Mapping[str, SimProfile]) -> Starlette:
    """The simulator imitating ``config.profile``, able to switch to any of ``profiles``."""
    state = SimState(config, profiles)
    content = ContentStore()
    atexit.register(content.close)  # also when mounted inside another app, whose lifespan skips ours

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.callbacks.close()
        content.close()

    providers: dict[str, ASGIApp] = {}
    for profile in profiles.values():
        if profile.provider not in providers:
            providers[profile.provider] = provider_app(profile.routes)
    app = SimulatorApp(
        routes=ops.ROUTES,
        middleware=[Middleware(RequestIds)],
        exception_handlers=handlers(_engine_shape, lambda request: ops.ROUTES),
        lifespan=lifespan,
    )
    app.router.default = CurrentProvider(state, providers)  # whatever is not /_sim
    app.state.sim = state
    app.state.content = content
    return app
