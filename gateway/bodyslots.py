"""Request bodies in flight, per client: one tenant's slow uploads never take every request slot.

A request with a body holds one of its client's *body slots* from the moment its headers are in until
its last body byte arrives (not while it is then served): the client is its tenant when the request
carries a known API key, else its address. A client already at ``max_bodies_per_tenant`` gets a 429
``too_many_request_bodies`` before anything of the new body is read, so a tenant without a rate limit
that opens a thousand slow uploads holds ``max_bodies_per_tenant`` slots of ``max_concurrent_requests``
and every other tenant's creates still get in. Counted per process, as ``max_concurrent_requests`` is.

A body must also keep up ``body_min_rate_bps`` after a ``body_min_rate_grace_s`` head start (at any
moment, received >= rate x (elapsed - grace)): a body trickling a byte a second is cut with a 408 in
seconds rather than holding its slot for ``body_timeout_s`` (see :class:`gateway.middleware.Exchange`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Message, Receive, Scope

ClientOf = Callable[[Scope], str]


def address_of(scope: Scope) -> str:
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:-"


def tenant_or_address(tenant_of_key: Callable[[str], str | None]) -> ClientOf:
    """Whose slots a request uses: the tenant its ``Bearer`` key names (``tenant_of_key``), else its address
    (no key, or one no tenant has: such a request is refused with a 401 before its body is read)."""

    def client_of(scope: Scope) -> str:
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                tenant = tenant_of_key(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
                if tenant is not None:
                    return f"tenant:{tenant}"
                break
        return address_of(scope)

    return client_of


class BodySlots:
    """How many request bodies each client has in flight (``limit`` 0: no limit)."""

    def __init__(self, limit: int, client_of: ClientOf = address_of) -> None:
        self.limit = limit
        self.client_of = client_of
        self._held: dict[str, int] = {}
        self._freed: dict[str, asyncio.Event] = {}  # set when one of a waited-on client's slots comes free

    def take(self, client: str) -> bool:
        """One slot for ``client``; False when it holds its limit already."""
        held = self._held.get(client, 0)
        if self.limit and held >= self.limit:
            return False
        self._held[client] = held + 1
        return True

    def give_back(self, client: str) -> None:
        held = self._held.get(client, 0) - 1
        if held > 0:
            self._held[client] = held
        else:
            self._held.pop(client, None)
        freed = self._freed.pop(client, None)
        if freed is not None:
            freed.set()

    def held(self, client: str) -> int:
        return self._held.get(client, 0)

    async def freed(self, client: str) -> None:
        """Returns once one of ``client``'s slots has been given back."""
        await self._freed.setdefault(client, asyncio.Event()).wait()


SLOTLESS_WAIT_S = 5.0  # a client with no slot free waits this long for a free slot or its whole body
SLOTLESS_MAX_BYTES = 1 << 20  # ... a body read while waiting is at most this big


async def _read_whole(receive: Receive, messages: list[Message], max_bytes: int) -> bool:
    """Append the body's messages to ``messages`` until it is whole (True) or passes ``max_bytes`` (False).
    Cancel-safe: a message is appended as soon as it is received."""
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return True  # a disconnect: the app sees it as it would have
        size += len(message.get("body", b""))
        if size > max_bytes:
            return False
        if not message.get("more_body", False):
            return True


async def slot_or_whole_body(
    slots: BodySlots,
    client: str,
    receive: Receive,
    wait_s: float = SLOTLESS_WAIT_S,
    max_bytes: int = SLOTLESS_MAX_BYTES,
) -> tuple[bool, list[Message]] | None:
    """For a client with no slot free: wait up to ``wait_s`` for a slot to come free (``(True, messages)``:
    the slot is taken) or for the whole body to be in (``(False, messages)``: it needs no slot); None when
    neither happens. ``messages`` is what was read of the body meanwhile, to be replayed.

    A burst of small creates holds many slots for an instant only: its bodies are on their way or already
    in, and slots come free as the first ones are read. Such a body is not a slow upload and is not refused."""
    messages: list[Message] = []
    reader = asyncio.ensure_future(_read_whole(receive, messages, max_bytes))
    deadline = asyncio.get_running_loop().time() + wait_s
    try:
        while True:
            if reader.done() and reader.result():
                return False, messages
            if slots.take(client):
                return True, messages
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or reader.done():
                return None
            waiter = asyncio.ensure_future(slots.freed(client))
            try:
                await asyncio.wait({reader, waiter}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
    finally:
        reader.cancel()


def replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first hands out ``messages`` already read, then reads on."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
