"""What one connection may hold: uvicorn's HTTP protocol with a header timeout and a JSON connection limit.

uvicorn times out idle keep-alive connections but not a request whose headers trickle in (or a
connection that never sends a byte): each such connection is held for as long as the client likes.
:class:`GuardedProtocol` closes a connection whose request line and headers are not complete
``header_timeout_s`` after it opened (or after the request began); the body has its own timeouts
(:class:`gateway.middleware.RequestLimits`). Past ``max_connections`` open connections a request is
answered 503 ``server_busy`` in OpenAI's error shape (uvicorn's own ``limit_concurrency`` answers in
plain text, so it is not used).

The limits are module values set by ``serve`` (and by each worker from the settings it is handed),
because uvicorn builds the protocol itself and hands workers the class, not an instance.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.errors import ApiError

HEADER_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 2048


def set_limits(header_timeout_s: float, max_connections: int) -> None:
    global HEADER_TIMEOUT_S, MAX_CONNECTIONS
    HEADER_TIMEOUT_S, MAX_CONNECTIONS = header_timeout_s, max_connections


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The answer past ``max_connections``: a 503 in OpenAI's shape, then the connection is closed."""
    message = f"The gateway has its limit of {MAX_CONNECTIONS} connections open; retry shortly."
    body = json.dumps(ApiError(503, message, type="server_error", code="server_busy").body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardedProtocol(HttpToolsProtocol):
    """Each connection notes when it began waiting for a request's line and headers (``_began``); one sweep per
    event loop, every second while connections are open, closes those waiting longer than ``HEADER_TIMEOUT_S``.
    (A timer per request cost a timer handle made and cancelled for every request.)"""

    _began: float | None = None  # None: not waiting for headers (they are in, or the connection is idle)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_concurrency = None  # the limit is ours (below), answered in OpenAI's shape

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._began = self.loop.time()
        _sweeper(self.loop).track(self)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._began = self.loop.time()  # the next request on a kept-alive connection gets the same time

    def on_headers_complete(self) -> None:
        self._began = None
        if len(self.connections) <= MAX_CONNECTIONS and len(self.tasks) < MAX_CONNECTIONS:
            super().on_headers_complete()
            return
        app, self.app = self.app, _busy  # this request only
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def connection_lost(self, exc: Exception | None) -> None:
        self._began = None
        sweeper = _SWEEPERS.get(self.loop)
        if sweeper is not None:
            sweeper.open.discard(self)
        super().connection_lost(exc)

    def too_slow(self, now: float) -> bool:
        return self._began is not None and now - self._began > HEADER_TIMEOUT_S


class _Sweeper:
    """The open connections of one event loop, and the sweep that closes those too slow with their headers."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.open: set[GuardedProtocol] = set()
        self.running = False

    def track(self, conn: GuardedProtocol) -> None:
        self.open.add(conn)
        if not self.running:
            self.running = True
            self.loop.call_later(min(1.0, HEADER_TIMEOUT_S / 2), self.sweep)

    def sweep(self) -> None:
        now = self.loop.time()
        for conn in [c for c in self.open if c.too_slow(now)]:
            conn._began = None
            if not conn.transport.is_closing():
                conn.transport.close()
        if self.open:
            self.loop.call_later(min(1.0, HEADER_TIMEOUT_S / 2), self.sweep)
        else:  # nothing open: forgotten with its loop, made again by the next connection
            self.running = False
            if _SWEEPERS.get(self.loop) is self:
                del _SWEEPERS[self.loop]


_SWEEPERS: dict[asyncio.AbstractEventLoop, _Sweeper] = {}


def _sweeper(loop: asyncio.AbstractEventLoop) -> _Sweeper:
    sweeper = _SWEEPERS.get(loop)
    if sweeper is None:
        sweeper = _SWEEPERS[loop] = _Sweeper(loop)
    return sweeper
