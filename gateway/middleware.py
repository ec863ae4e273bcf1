"""One pure-ASGI middleware for every request: request id, body limit, access log, metrics, last-resort errors.

Each request gives exactly one ``request`` log event (request id, method, route,
status, tenant, video id, upstream profile, latency) and one sample in
``sora_gateway_requests_total`` / ``sora_gateway_request_duration_seconds``.
Labels stay bounded: the route is the endpoint's name (``unmatched`` for a 404),
unknown methods become ``OTHER``, the tenant is a policy name or ``-``.

:class:`Exchange` holds one request's state; each concern is one small method of it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.ids import new_request_id
from gateway.errors import ApiError
from gateway.observability import REQUEST_LATENCY, REQUESTS, log
from gateway.store.base import StoreError

SKIP_LOG = {"/metrics", "/healthz", "/readyz"}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
VIDEO_ID = re.compile(rb'"id"\s*:\s*"(video_[0-9a-f]{8,64})"')
SNIFF_BYTES = 512  # a response's video id is looked for in the first bytes of a JSON body


def request_id_of(headers: dict[bytes, bytes]) -> str:
    """The client's ``x-request-id`` when it is a sane token, else a fresh one."""
    given = headers.get(b"x-request-id", b"").decode("latin-1").strip()
    return given if REQUEST_ID.fullmatch(given) else new_request_id()


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


@dataclass(frozen=True)
class RequestLimits:
    """What one client may hold: a body must arrive within ``body_timeout_s`` and never pause longer
    than ``body_idle_timeout_s`` (a 408 otherwise); at most ``max_concurrent`` requests run at once
    per process (a 503 ``server_busy`` beyond; health and metrics are never refused)."""

    body_timeout_s: float = 300.0
    body_idle_timeout_s: float = 30.0
    max_concurrent: int = 1000


class Exchange:
    """One request as the middleware sees it: what came in, what went out, when."""

    def __init__(self, scope: Scope, send: Send, max_body_bytes: int, limits: RequestLimits | None = None) -> None:
        self.scope = scope
        self.headers = dict(scope.get("headers") or [])
        self.request_id = request_id_of(self.headers)
        self.max_body_bytes = max_body_bytes
        self.started = time.perf_counter()
        self.status = 500
        self.responded = False
        self.json = False
        self.video_id: str | None = None
        self._send = send
        self._received = 0
        self.limits = limits or RequestLimits()
        # a request without a body (most GETs) reads one empty message: no timer needed for it
        self._body_done = self.headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in self.headers
        self._body_deadline = time.monotonic() + self.limits.body_timeout_s
        scope.setdefault("state", {})["request_id"] = self.request_id

    def declared_too_large(self) -> int | None:
        """The ``content-length`` when it is already over the limit."""
        declared = self.headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return int(declared)
        return None

    def limit(self, receive: Receive) -> Receive:
        """``receive`` that stops a body growing past the limit (a chunked upload has no content-length)."""

        async def limited() -> Message:
            if self._body_done:  # e.g. a streaming response listening for the client's disconnect
                return await receive()
            wait = min(self.limits.body_idle_timeout_s, self._body_deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.001))
            except TimeoutError:
                raise _TooSlow() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                self._body_done = True
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self.max_body_bytes:
                    raise _TooLarge()
            return message

        return limited

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start(message)
        elif message["type"] == "http.response.body" and self.json and self.video_id is None:
            found = VIDEO_ID.search(message.get("body", b"")[:SNIFF_BYTES])
            self.video_id = found.group(1).decode() if found else ""
        await self._send(message)

    def _start(self, message: Message) -> None:
        """Note the status; add ``x-request-id`` and the headers a stage asked for (e.g. ``x-ratelimit-*``)."""
        self.status = message["status"]
        self.responded = True
        headers = list(message.get("headers", []))
        self.json = any(k.lower() == b"content-type" and b"json" in v for k, v in headers)
        present = {k.lower() for k, _ in headers}
        extra = [(b"x-request-id", self.request_id.encode("latin-1"))]
        for name, value in ((self.scope.get("state") or {}).get("response_headers") or {}).items():
            if name.lower().encode("latin-1") not in present:
                extra.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        message["headers"] = [*headers, *extra]

    async def fail(
        self, status: int, message: str, type_: str, code: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """An OpenAI-shaped error, unless a response already started (then the connection just ends)."""
        if self.responded:
            return
        self.status = status
        body = json.dumps(ApiError(status, message, type=type_, code=code).body()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", self.request_id.encode("latin-1")),
            *(extra or []),
        ]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})
        self.responded = True

    def record(self, profile: Callable[[], str | None]) -> None:
        """The request's metrics sample and its ``request`` log event."""
        elapsed = time.perf_counter() - self.started
        scope = self.scope
        route = getattr(scope.get("endpoint"), "__name__", "unmatched")
        tenant = (scope.get("state") or {}).get("tenant", "-")
        method = scope.get("method", "GET")
        method = method if method in METHODS else "OTHER"
        REQUESTS.labels(route, method, str(self.status), tenant).inc()
        REQUEST_LATENCY.labels(route, method).observe(elapsed)
        path = str(scope.get("path", ""))
        if path in SKIP_LOG:
            return
        video_id = (scope.get("path_params") or {}).get("video_id") or self.video_id or None
        log.info(
            "request",
            method=method,
            route=route,
            path=path[:256],
            status=self.status,
            tenant=tenant,
            video_id=str(video_id)[:80] if video_id else None,
            upstream=profile() if path.startswith("/v1/video") else None,
            latency_ms=round(elapsed * 1000, 2),
        )


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        profile: Callable[[], str | None] = lambda: None,
        limits: RequestLimits | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.profile = profile  # the upstream profile in force, for the access log
        self.limits = limits or RequestLimits()
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(scope, send, self.max_body_bytes, self.limits)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=exchange.request_id)
        self.inflight += 1
        try:
            if self.inflight > self.limits.max_concurrent and scope.get("path") not in SKIP_LOG:
                busy = f"The gateway is serving its limit of {self.limits.max_concurrent} requests; retry shortly."
                await exchange.fail(503, busy, "server_error", "server_busy", [(b"retry-after", b"1")])
                return
            declared = exchange.declared_too_large()
            if declared is not None:
                limit = f"Request body of {declared} bytes exceeds the limit of {self.max_body_bytes} bytes."
                await exchange.fail(413, limit, "invalid_request_error", "request_too_large")
                return
            await self.app(scope, exchange.limit(receive), exchange.send)
        except _TooLarge:
            limit = f"Request body exceeds the limit of {self.max_body_bytes} bytes."
            await exchange.fail(413, limit, "invalid_request_error", "request_too_large")
        except _TooSlow:
            slow = (
                f"The request body did not arrive in time (at most {self.limits.body_timeout_s:g}s in all, "
                f"pauses of at most {self.limits.body_idle_timeout_s:g}s)."
            )
            await exchange.fail(408, slow, "invalid_request_error", "request_timeout", [(b"connection", b"close")])
        except StoreError as exc:
            log.error("store_unavailable", path=scope.get("path"), error=str(exc))
            unavailable = "The gateway's store is unavailable; try again shortly."
            await exchange.fail(503, unavailable, "server_error", "store_unavailable")
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"))
            internal = "The gateway had an internal error; the request id is " + exchange.request_id
            await exchange.fail(500, internal, "server_error", "internal_error")
        finally:
            self.inflight -= 1
            exchange.record(self.profile)
            structlog.contextvars.clear_contextvars()
