"""The simulator's app factory and command line (``sora-gateway simulator``)."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from types import FrameType

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.cliargs import SIMULATOR_PREFIX, env_default, env_value, one_of
from gateway.simulator import azure_api, openai_2026, openai_api, openai_misc, ops
from gateway.simulator.config import SimulatorConfig, split_words
from gateway.simulator.content import ContentStore
from gateway.simulator.errors import DropConnection, SimError, invalid_url
from gateway.simulator.faults import FaultSpec, drop_connections, parse_faults
from gateway.simulator.profiles import DEFAULT_PROFILE, PROFILES
from gateway.simulator.state import SimState

log = logging.getLogger("gateway.simulator")


class RequestIds:
    """Adds ``x-request-id`` to every response, as the real API does."""

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


async def _sim_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimError)
    return exc.response()


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return invalid_url(request.method, request.url.path).response()
    if exc.status_code == 405:
        return SimError(
            405,
            f"Method {request.method} is not allowed for {request.url.path}.",
            code="method_not_allowed",
            headers={"Allow": ", ".join(_allowed_methods(request))},
        ).response()
    return SimError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected simulator error", exc_info=exc)
    body = SimError(500, "The server had an error while processing your request.", type="server_error").body()
    return JSONResponse(body, status_code=500)


def build_app(config: SimulatorConfig) -> Starlette:
    state = SimState(config)
    content = ContentStore()
    atexit.register(content.close)  # also when mounted inside another app, whose lifespan skips ours

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        content.close()

    routes = [*ops.ROUTES, *openai_misc.ROUTES, *openai_2026.ROUTES, *openai_api.ROUTES, *openai_api.ITEM_ROUTES]
    app = SimulatorApp(
        routes=[*routes, *azure_api.ROUTES],
        middleware=[Middleware(RequestIds)],
        exception_handlers={SimError: _sim_error, HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.sim = state
    app.state.content = content
    return app


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's flags; each also reads ``SORA_GATEWAY_SIMULATOR_<FLAG>``."""

    def e(flag: str, default: object = None) -> object:
        return env_default(flag, default, SIMULATOR_PREFIX)

    parser.add_argument("--host", default=e("host", "127.0.0.1"), help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=e("port", 9000), help="port (default 9000)")
    parser.add_argument(
        "--profile",
        type=one_of(PROFILES),
        default=e("profile", DEFAULT_PROFILE),
        choices=list(PROFILES),
        help=f"upstream version to imitate (default {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=e("time_scale", 1.0),
        metavar="X",
        help="multiplies every job duration and the content TTL (default 1.0; 0.01: about 1%% of real time)",
    )
    parser.add_argument(
        "--faults",
        default=e("faults", ""),
        metavar="SPEC",
        help="e.g. 5xx=0.1,429=0.05,reset=0.01,slow=0.05,late=0.05,fail=0.1 (slow_s=SECONDS sets the delay)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accepted key (repeatable; env: comma list); default: any non-empty key",
    )
    parser.add_argument(
        "--rpm", type=int, default=e("rpm", 0), help="create-like requests per minute per key (default 0: unlimited)"
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=e("max_concurrent", 0),
        metavar="N",
        help="queued+running jobs per key (default 0: unlimited)",
    )
    parser.add_argument(
        "--moderation-words",
        default=e("moderation_words", "forbidden,gore"),
        metavar="A,B",
        help="comma list of words that trip moderation (default forbidden,gore)",
    )
    parser.add_argument(
        "--content-ttl",
        type=float,
        default=e("content_ttl", 3600.0),
        metavar="S",
        help="seconds content stays downloadable after completion, times time-scale (default 3600)",
    )
    parser.add_argument(
        "--ignore-idempotency",
        action="store_true",
        default=str(e("ignore_idempotency", "")).lower() in {"1", "true", "yes", "on"},
        help="ignore Idempotency-Key (the real OpenAI Videos API does not document it): a re-sent create "
        "starts a second generation",
    )
    parser.add_argument("--seed", type=int, default=e("seed"), help="random seed for faults (default: random)")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error", "critical"],
        default=e("log_level", "info"),
        help="(default info)",
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "console"],
        default=e("log_format", "json"),
        help="JSON lines like the gateway's (default) or console lines",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    keys = args.api_key if args.api_key else split_words(env_value("api_key", SIMULATOR_PREFIX))
    faults: FaultSpec = parse_faults(args.faults)
    return SimulatorConfig(
        profile=args.profile,
        time_scale=args.time_scale,
        faults=faults,
        api_keys=tuple(keys),
        rpm=args.rpm,
        max_concurrent=args.max_concurrent,
        moderation_words=split_words(args.moderation_words),
        content_ttl=args.content_ttl,
        seed=args.seed,
        ignore_idempotency=args.ignore_idempotency,
        host=args.host,
        port=args.port,
    )


class GracefulServer(uvicorn.Server):
    """Exits with status 0 after a graceful shutdown on SIGTERM/SIGINT (uvicorn would re-raise the signal,
    killing the process before anything after ``serve()`` runs, e.g. the demo's temporary directory cleanup)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def run_from_args(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM (uvicorn finishes in-flight requests, then exits 0)."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"sora-gateway simulator: error: {exc}", file=sys.stderr)
        return 2
    from gateway.observability import configure_logging
    from gateway.observability import log as events

    configure_logging(args.log_level, args.log_format)  # the gateway's setup: JSON lines (or console lines)
    app = build_app(config)
    events.info(
        "simulator_started",
        profile=config.profile,
        time_scale=config.time_scale,
        faults=config.faults.describe(),
        url=f"http://{config.host}:{config.port}/v1",
    )
    server = GracefulServer(
        uvicorn.Config(
            app, host=config.host, port=config.port, log_config=None, access_log=False, timeout_graceful_shutdown=5
        )
    )
    server.run()
    return 0


__all__ = ["DropConnection", "GracefulServer", "SimulatorConfig", "add_arguments", "build_app", "run_from_args"]
