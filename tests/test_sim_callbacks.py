"""The simulator engine's provider callbacks: one POST per phase change, in order, a refused handshake stops them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from gateway.media.render import Segment
from gateway.simulator.callbacks import Callbacks
from gateway.simulator.jobs import Job


def _job(now: float) -> Job:
    segments = (Segment("p", 1.0),)
    return Job("t1", "k", "p", "create", "m", "m", "p", "64x64", segments, now, queue_s=0.1, run_s=0.2, ttl_s=60)


async def test_each_phase_change_is_posted_once_in_order() -> None:
    got: list[dict[str, str]] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        got.append(json.loads(request.content))
        assert request.headers["x-sig"] == str(len(request.content))
        return httpx.Response(200)

    loop = asyncio.get_running_loop()
    callbacks = Callbacks(loop.time, tick_s=0.01, transport=httpx.MockTransport(receive))
    callbacks.watch(
        _job(loop.time()),
        "http://cb.test/x",
        lambda j, phase: {"id": j.id, "phase": phase},
        headers=lambda body: {"x-sig": str(len(body))},
    )
    await _until(lambda: not callbacks.watched)
    await callbacks.close()
    assert [g["phase"] for g in got] == ["queued", "in_progress", "completed"]
    assert callbacks.counts == {"delivered": 3, "failed": 0, "refused": 0}


async def test_a_refused_handshake_sends_nothing() -> None:
    loop = asyncio.get_running_loop()
    callbacks = Callbacks(loop.time, tick_s=0.01)

    async def refuse(client: httpx.AsyncClient, url: str) -> bool:
        return False

    callbacks.watch(_job(loop.time()), "http://127.0.0.1:9/never", lambda j, p: {}, handshake=refuse)
    await _until(lambda: not callbacks.watched)
    await callbacks.close()
    assert callbacks.counts == {"delivered": 0, "failed": 0, "refused": 1}


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(1000):  # the engine's clock runs in real time here: ~0.3 s of phases
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the callbacks did not finish")
