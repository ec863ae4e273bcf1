"""Poll absorption: however many clients poll a running job, the upstream sees one poller on its own schedule."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEYS, Gateway, calls, start_gateway
from tests.procs import Proc, start_simulator

CLIENTS = 40
POLL_FOR_S = 3.0
MIN_POLLS = 5  # per client
UPSTREAM_POLL_S = 1.0  # the slow simulator's openai-poll-after-ms


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[Proc]:
    """Jobs stay queued for 5 s; the upstream asks to be polled every 1000 ms."""
    sim = start_simulator(time_scale=0.5)
    yield sim
    sim.stop()


def absorbed(gw: Gateway) -> float:
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    found = re.search(r'^sora_gateway_polls_absorbed_total\{tenant="acme"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def poll_for(url: str, video_id: str, seconds: float) -> list[httpx.Response]:
    async def one_client() -> list[httpx.Response]:
        got: list[httpx.Response] = []
        headers = {"Authorization": f"Bearer {KEYS['acme']}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline or len(got) < MIN_POLLS:  # a loaded machine: still as many polls
                got.append(await http.get(f"/v1/videos/{video_id}"))
                await asyncio.sleep(0.02)
        return got

    results = await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return [r for batch in results for r in batch]


def test_40_clients_polling_for_3s_cost_a_few_upstream_retrieves(slow_simulator: Proc, tmp_path: Path) -> None:
    gw = start_gateway(slow_simulator, tmp_path, "memory://")
    try:
        video = gw.client().videos.create(prompt="a slow sunrise", seconds="4")
        before, absorbed_before = calls(slow_simulator, "retrieve"), absorbed(gw)
        started = time.monotonic()
        responses = asyncio.run(poll_for(gw.url, video.id, POLL_FOR_S))
        upstream = calls(slow_simulator, "retrieve") - before
        elapsed = time.monotonic() - started
        assert all(r.status_code == 200 and r.json()["status"] in ("queued", "in_progress") for r in responses)
        assert len(responses) >= CLIENTS * MIN_POLLS, len(responses)
        # one poller, every ~1000 ms as the upstream asked (a loaded machine polls later, never sooner): about
        # one call per second of polling, whatever the number of clients (here 40 clients poll every 20 ms)
        limit = int(elapsed / UPSTREAM_POLL_S) + 2
        assert upstream <= limit, f"{upstream} upstream retrieves in {elapsed:.1f} s for {len(responses)} client polls"
        assert absorbed(gw) - absorbed_before == len(responses)
        hints = {int(r.headers["openai-poll-after-ms"]) for r in responses}
        assert min(hints) >= 250 and max(hints) <= 10000, hints
    finally:
        gw.proc.stop()
