"""A request's headers must arrive in time: uvicorn's HTTP protocol with a header timeout.

uvicorn times out idle keep-alive connections but not a request whose headers trickle in (or a
connection that never sends a byte): each such connection is held for as long as the client likes,
and ``max_connections`` of them lock everyone else out. This protocol closes a connection whose
request line and headers are not complete ``header_timeout_s`` after it opened (or after the
request began); the body has its own timeouts (:class:`gateway.middleware.RequestLimits`).

The timeout is a module value set by ``serve`` (and by each worker from the settings it is handed),
because uvicorn builds the protocol itself and hands workers the class, not an instance.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 30.0


def set_header_timeout(seconds: float) -> None:
    global HEADER_TIMEOUT_S
    HEADER_TIMEOUT_S = seconds


class HeaderTimeoutProtocol(HttpToolsProtocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection gets the same time

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
