"""Fault injection: parse ``--faults``, draw faults per request, drop connections.

``5xx=p`` → 500 or 503 ``server_error``; ``429=p`` → 429 with ``Retry-After: 1``;
``reset=p`` → the TCP connection is closed with no response at all; ``slow=p`` → the
response is delayed by ``slow_s`` seconds (default 2, real time) before the request takes effect;
``late=p`` → a create-like request takes effect (the job exists) and then its response is delayed by
``slow_s`` seconds (a create whose answer is lost if the caller dies meanwhile); ``fail=p`` → a newly
created job fails during generation. Request faults are drawn after authentication and
before any state change.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, fields

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.simulator.errors import DropConnection, SimError

# spec key -> FaultSpec attribute
FAULT_KEYS: dict[str, str] = {
    "5xx": "server_error",
    "429": "rate_limit",
    "reset": "reset",
    "slow": "slow",
    "late": "late",
    "fail": "fail",
    "slow_s": "slow_seconds",
}

SERVER_ERRORS: tuple[tuple[int, str, str], ...] = (
    (500, "The server had an error while processing your request. Sorry about that!", "server_error"),
    (503, "The server is overloaded or not ready yet.", "service_unavailable"),
)


@dataclass
class FaultSpec:
    server_error: float = 0.0
    rate_limit: float = 0.0
    reset: float = 0.0
    slow: float = 0.0
    late: float = 0.0
    fail: float = 0.0
    slow_seconds: float = 2.0

    def describe(self) -> str:
        by_attr = {attr: key for key, attr in FAULT_KEYS.items()}
        return ",".join(f"{by_attr[f.name]}={getattr(self, f.name):g}" for f in fields(self))


def parse_faults(spec: str | None) -> FaultSpec:
    """``"5xx=0.1,429=0.05,reset=0.01,slow=0.05,fail=0.1"`` → :class:`FaultSpec`."""
    result = FaultSpec()
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        attr = FAULT_KEYS.get(key.strip().lower())
        if not sep or attr is None:
            raise ValueError(f"bad fault {item!r}; expected KEY=PROBABILITY with KEY in {', '.join(FAULT_KEYS)}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"bad fault {item!r}: {raw!r} is not a number") from None
        if value < 0 or (attr != "slow_seconds" and value > 1):
            raise ValueError(f"bad fault {item!r}: probability must be within 0..1")
        setattr(result, attr, value)
    return result


class FaultInjector:
    """Draws faults from a seeded RNG and counts what it injected."""

    def __init__(self, spec: FaultSpec, seed: int | None = None) -> None:
        self.spec = spec
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = dict.fromkeys(FAULT_KEYS, 0)
        del self.counts["slow_s"]

    def _hit(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    async def apply(self) -> None:
        """Delay, drop or refuse this request, or let it through."""
        spec = self.spec
        if self._hit(spec.slow):
            self.counts["slow"] += 1
            await asyncio.sleep(spec.slow_seconds)
        if self._hit(spec.reset):
            self.counts["reset"] += 1
            raise DropConnection
        if self._hit(spec.server_error):
            self.counts["5xx"] += 1
            status, message, code = self.rng.choice(SERVER_ERRORS)
            raise SimError(status, message, type="server_error", code=code)
        if self._hit(spec.rate_limit):
            self.counts["429"] += 1
            raise SimError(
                429,
                "Rate limit reached for requests. Please try again in 1s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": "1"},
            )

    async def delay_response(self) -> None:
        """The ``late`` fault: hold a create-like response after its job was recorded."""
        if self._hit(self.spec.late):
            self.counts["late"] += 1
            await asyncio.sleep(self.spec.slow_seconds)

    def job_fails(self) -> bool:
        if self._hit(self.spec.fail):
            self.counts["fail"] += 1
            return True
        return False

    def reset_counts(self) -> None:
        self.counts = dict.fromkeys(self.counts, 0)


class drop_connections:
    """Outermost ASGI layer turning :class:`DropConnection` into a closed connection.

    Under uvicorn the ``send`` callable is bound to the request cycle, which holds the
    transport: it is aborted, so the client sees the connection end without any byte of
    response (httpx: ``RemoteProtocolError: Server disconnected without sending a
    response``). Elsewhere (a server not exposing its transport), a response head with a
    ``content-length`` is sent and no body, which makes the server close the connection
    on an incomplete response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except DropConnection:
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None and hasattr(transport, "abort"):
                transport.abort()
                await asyncio.sleep(0.01)  # let the server notice the disconnect before we return
                return
            headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
