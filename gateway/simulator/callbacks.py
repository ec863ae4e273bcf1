"""Provider callbacks from the simulator: a task's state POSTed to the callback URL its create named.

Several providers call a create's ``callback_url`` back when the task changes (Kling on every status change,
MiniMax after a ``challenge`` handshake, Ark/Seedance on every status change, Luma Dream Machine). A provider
profile that imitates one registers each such task with :meth:`Callbacks.watch`: the URL, and a function that
renders the provider's payload for the task at the engine's phase (queued, in_progress, completed, failed).
A background loop notices each phase change on the engine's clock (jobs are computed from the clock; nothing
else moves them) and POSTs the payload once per phase, in order, retried a few times on a failed delivery as
the providers do. ``handshake`` (optional) is awaited before a task's first delivery; a falsy answer stops that
task's callbacks (MiniMax sends nothing to a URL that did not echo its challenge).

``/_sim/stats`` reports ``callbacks``: how many were delivered (2xx), failed (after retries) and refused by a
handshake, so tests can count them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.simulator.jobs import ACTIVE, Job

log = logging.getLogger("gateway.simulator")

Payload = Callable[[Job, str], Any]  # (task, engine phase) -> the provider's JSON body for it
Headers = Callable[[bytes], dict[str, str]]  # (the body as sent) -> extra headers (a signature)
Handshake = Callable[[httpx.AsyncClient, str], Awaitable[bool]]  # (client, url) -> may deliver
TICK_S = 0.05
ATTEMPTS = 3
RETRY_S = 0.2


@dataclass
class Watched:
    job: Job
    url: str
    payload: Payload
    headers: Headers | None = None
    handshake: Handshake | None = None
    sent: list[str] = field(default_factory=list)  # phases delivered (or given up on), in order
    open: bool | None = None  # the handshake's verdict (None: not asked yet)


class Callbacks:
    def __init__(
        self, clock: Callable[[], float], tick_s: float = TICK_S, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.clock = clock
        self.tick_s = tick_s
        self.transport = transport  # tests: where the POSTs go instead of the network
        self.watched: dict[str, Watched] = {}
        self.counts = {"delivered": 0, "failed": 0, "refused": 0}
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def watch(
        self,
        job: Job,
        url: str,
        payload: Payload,
        *,
        headers: Headers | None = None,
        handshake: Handshake | None = None,
    ) -> None:
        """Call ``url`` back at each of ``job``'s phase changes (the first: its phase now)."""
        self.watched[job.id] = Watched(job, url, payload, headers, handshake)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="sim-callbacks")

    async def _loop(self) -> None:
        self._client = httpx.AsyncClient(timeout=5.0, transport=self.transport)
        try:
            while self.watched:
                for entry in list(self.watched.values()):
                    await self._step(entry)
                await asyncio.sleep(self.tick_s)
        finally:
            await self._client.aclose()
            self._client = None

    async def _step(self, entry: Watched) -> None:
        job = entry.job
        phase = job.phase(self.clock())
        if job.deleted:
            self.watched.pop(job.id, None)
            return
        if not entry.sent or entry.sent[-1] != phase:
            assert self._client is not None
            if entry.open is None and entry.handshake is not None:
                entry.open = await self._ask(entry)
            if entry.open is False:
                self.counts["refused"] += 1
                self.watched.pop(job.id, None)
                return
            await self._deliver(entry, phase)
            entry.sent.append(phase)
        if phase not in ACTIVE:
            self.watched.pop(job.id, None)

    async def _ask(self, entry: Watched) -> bool:
        assert self._client is not None and entry.handshake is not None
        try:
            return bool(await entry.handshake(self._client, entry.url))
        except (httpx.HTTPError, ValueError):
            return False

    async def _deliver(self, entry: Watched, phase: str) -> None:
        assert self._client is not None
        body = json.dumps(entry.payload(entry.job, phase)).encode()
        headers = {"Content-Type": "application/json", **(entry.headers(body) if entry.headers else {})}
        for attempt in range(ATTEMPTS):
            with contextlib.suppress(httpx.HTTPError):
                response = await self._client.post(entry.url, content=body, headers=headers)
                if response.is_success:
                    self.counts["delivered"] += 1
                    return
            await asyncio.sleep(RETRY_S * (attempt + 1))
        self.counts["failed"] += 1
        log.info("callback to %s for %s (%s) failed", entry.url, entry.job.id, phase)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
