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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.accesslog import write_poll_line, write_request_line
from gateway.bodyslots import BodySlots, ClientOf, address_of, replay, slot_or_whole_body
from gateway.core.ids import new_request_id
from gateway.errors import ApiError
from gateway.observability import REQUEST_LATENCY, REQUESTS, child, log
from gateway.store.base import StoreError

SKIP_LOG = {"/metrics", "/healthz", "/readyz"}
POLL_ROUTES = {"retrieve_video", "retrieve_generation"}  # client polls: their 2xx lines may be sampled
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
VIDEO_ID = re.compile(rb'"id"\s*:\s*"(video_[0-9a-f]{8,64})"')
SNIFF_BYTES = 512  # a response's video id is looked for in the first bytes of a JSON body
CLIENT_CLOSED = 499  # logged (never sent) for a client that left before its body was in, as nginx does


def request_id_of(headers: dict[bytes, bytes]) -> str:
    """The client's ``x-request-id`` when it is a sane token, else a fresh one."""
    given = headers.get(b"x-request-id")
    if given is None:
        return new_request_id()
    text = given.decode("latin-1").strip()
    return text if REQUEST_ID.fullmatch(text) else new_request_id()


# a whole 200 for the plain requests it knows (headers without x-request-id, body); None: route as usual
FastPath = Callable[[Scope, dict[bytes, bytes]], Awaitable[tuple[list[tuple[bytes, bytes]], bytes] | None]]


def once_per_second(read: Callable[[], str | None]) -> Callable[[], str | None]:
    """``read``'s answer, asked again at most once a second (the upstream profile in force is a routing pick)."""
    last: list[Any] = [float("-inf"), None]

    def value() -> str | None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0], last[1] = now, read()
        return last[1]

    return value


class _TooLarge(Exception):
    pass


class PollLogSampler:
    """Log this fraction of successful polls (``log_poll_sample``): every ``1/rate``-th one, no randomness."""

    def __init__(self, rate: float = 1.0) -> None:
        self.rate = rate
        self._credit = 0.0

    def take(self) -> bool:
        if self.rate >= 1.0:
            return True
        self._credit += self.rate
        if self._credit >= 1.0:
            self._credit -= 1.0
            return True
        return False


class _TooSlow(Exception):
    """A body too slow for a rule; the text names it."""


@dataclass(frozen=True)
class RequestLimits:
    """What one client may hold: a body must arrive within ``body_timeout_s``, never pause longer
    than ``body_idle_timeout_s`` and, after ``body_min_rate_grace_s``, keep up ``body_min_rate_bps``
    (a 408 otherwise); at most ``max_concurrent`` requests run at once per process (a 503 ``server_busy``
    beyond; health and metrics are never refused), and each client at most ``max_bodies_per_tenant``
    bodies (a 429, :mod:`gateway.bodyslots`)."""

    body_timeout_s: float = 300.0
    body_idle_timeout_s: float = 30.0
    max_concurrent: int = 1000
    body_min_rate_bps: float = 500.0  # 0: no minimum rate
    body_min_rate_grace_s: float = 20.0
    max_bodies_per_tenant: int = 64  # 0: no limit


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
        self.has_body = not self._body_done
        self._body_started = time.monotonic()
        self._body_deadline = self._body_started + self.limits.body_timeout_s
        self.on_body_done: Callable[[], None] | None = None  # called once, when the last body byte is in
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
            wait, rule = self._next_wait()
            if wait <= 0:
                raise _TooSlow(rule)
            try:
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                raise _TooSlow(rule) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                self._body_done = True
                if self.on_body_done is not None:
                    self.on_body_done()
                    self.on_body_done = None
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self.max_body_bytes:
                    raise _TooLarge()
            return message

        return limited

    def _next_wait(self) -> tuple[float, str]:
        """How long the next body bytes may take, and the rule that says so (named in the 408)."""
        limits, now = self.limits, time.monotonic()
        waits = [
            (limits.body_idle_timeout_s, f"pauses of at most {limits.body_idle_timeout_s:g}s (body_idle_timeout_s)"),
            (self._body_deadline - now, f"at most {limits.body_timeout_s:g}s in all (body_timeout_s)"),
        ]
        if limits.body_min_rate_bps > 0:
            behind_s = self._body_started + limits.body_min_rate_grace_s + self._received / limits.body_min_rate_bps
            rule = (
                f"at least {limits.body_min_rate_bps:g} bytes/s after the first "
                f"{limits.body_min_rate_grace_s:g}s (body_min_rate_bps)"
            )
            waits.append((behind_s - now, rule))
        return min(waits)

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

    async def answer(self, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """A 200 built whole by a fast path (:mod:`gateway.faces.fast_polls`): sent as is, with the request id."""
        self.status, self.responded, self.json = 200, True, True
        headers.append((b"x-request-id", self.request_id.encode("latin-1")))
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

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

    def record(self, profile: Callable[[], str | None], sampler: PollLogSampler | None = None) -> None:
        """The request's metrics sample and its ``request`` log event."""
        elapsed = time.perf_counter() - self.started
        scope = self.scope
        route = getattr(scope.get("endpoint"), "__name__", "unmatched")
        tenant = (scope.get("state") or {}).get("tenant", "-")
        method = scope.get("method", "GET")
        method = method if method in METHODS else "OTHER"
        child(REQUESTS, route, method, str(self.status), tenant).inc()
        child(REQUEST_LATENCY, route, method).observe(elapsed)
        path = str(scope.get("path", ""))
        if path in SKIP_LOG:
            return
        if sampler is not None and self.status < 400 and route in POLL_ROUTES and not sampler.take():
            return  # counted in the metrics above all the same
        video_id = (scope.get("path_params") or {}).get("video_id") or self.video_id or None
        fields = {
            "method": method,
            "route": route,
            "path": path[:256],
            "status": self.status,
            "tenant": tenant,
            "video_id": str(video_id)[:80] if video_id else None,
            "upstream": profile() if path.startswith("/v1/video") else None,
            "latency_ms": round(elapsed * 1000, 2),
        }
        if self.status == 200 and route in POLL_ROUTES:
            write_poll_line(self.request_id, fields)  # the same line, most of it encoded once per video
        else:
            write_request_line(self.request_id, fields)


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        profile: Callable[[], str | None] = lambda: None,
        limits: RequestLimits | None = None,
        log_poll_sample: float = 1.0,
        client_of: ClientOf = address_of,
        fast: FastPath | None = None,
    ) -> None:
        self.app = app
        self.fast = fast  # asked first for a request without a body (client polls: faces/fast_polls.py)
        self.max_body_bytes = max_body_bytes
        self.profile = once_per_second(profile)  # the upstream profile in force, for the access log
        self.limits = limits or RequestLimits()
        self.body_slots = BodySlots(self.limits.max_bodies_per_tenant, client_of)
        self.inflight = 0
        self.sampler = PollLogSampler(log_poll_sample)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(scope, send, self.max_body_bytes, self.limits)
        bound = structlog.contextvars.bind_contextvars(request_id=exchange.request_id)  # the only key ever bound
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
            if exchange.has_body and not self._hold_body_slot(exchange):
                self.inflight -= 1  # a body with no slot waits outside max_concurrent_requests
                try:
                    room = await self._wait_for_body_room(exchange, receive)
                finally:
                    self.inflight += 1
                if room is None:
                    await self._refuse_body(exchange)
                    return
                receive = room
            elif not exchange.has_body and await self._answered_fast(exchange):
                return
            await self.app(scope, exchange.limit(receive), exchange.send)
        except _TooLarge:
            limit = f"Request body exceeds the limit of {self.max_body_bytes} bytes."
            await exchange.fail(413, limit, "invalid_request_error", "request_too_large")
        except _TooSlow as exc:
            slow = f"The request body did not arrive in time: {exc}."
            await exchange.fail(408, slow, "invalid_request_error", "request_timeout", [(b"connection", b"close")])
        except ClientDisconnect:  # the client went away mid-body: nobody to answer, nothing went wrong here
            exchange.status = CLIENT_CLOSED
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
            if exchange.on_body_done is not None:  # the body never finished: its slot is free all the same
                exchange.on_body_done()
            exchange.record(self.profile, self.sampler)
            structlog.contextvars.reset_contextvars(**bound)

    async def _answered_fast(self, exchange: Exchange) -> bool:
        """Whether the fast path (client polls) answered this request whole."""
        if self.fast is None:
            return False
        answer = await self.fast(exchange.scope, exchange.headers)
        if answer is None:
            return False
        await exchange.answer(*answer)
        return True

    def _hold_body_slot(self, exchange: Exchange) -> bool:
        """Take one of the client's body slots until the body is in; False when it has none free."""
        slots = self.body_slots
        client = slots.client_of(exchange.scope)
        if not slots.take(client):
            return False
        exchange.on_body_done = lambda: slots.give_back(client)
        return True

    async def _wait_for_body_room(self, exchange: Exchange, receive: Receive) -> Receive | None:
        """For a client at its ``max_bodies_per_tenant``: the ``receive`` to go on with once a slot comes free
        (held until the body is in) or the whole body is in, whichever is first; None after the wait."""
        slots = self.body_slots
        client = slots.client_of(exchange.scope)
        room = await slot_or_whole_body(slots, client, receive)
        if room is None:
            return None
        took_slot, messages = room
        if took_slot:
            exchange.on_body_done = lambda: slots.give_back(client)
        return replay(messages, receive)

    async def _refuse_body(self, exchange: Exchange) -> None:
        """The 429 for a client at its ``max_bodies_per_tenant`` whose new body did not come in at once."""
        client = self.body_slots.client_of(exchange.scope)
        who = "this API key's team" if client.startswith("tenant:") else "this client address"
        busy = (
            f"Too many request bodies in flight for {who}: at most {self.body_slots.limit} at once "
            "(max_bodies_per_tenant); finish sending one, then retry."
        )
        extra = [(b"retry-after", b"1"), (b"connection", b"close")]
        await exchange.fail(429, busy, "rate_limit_error", "too_many_request_bodies", extra)
