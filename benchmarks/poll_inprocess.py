"""CPU per client poll inside one process: the gateway's ASGI app called directly, next to a bare Starlette app.

    .venv/bin/python -m benchmarks.poll_inprocess [--polls 5000] [--rounds 3]

No sockets and no server: what the gateway's own code costs per ``GET /v1/videos/{id}`` (every poll logged
as ``serve`` logs it, to a pipe nobody reads), against the same call to the ceiling app of
``benchmarks/ceiling.py``. The job is written straight into a SQLite store as a job in flight whose next upstream
look is an hour away, so the driver leaves it alone. Prints microseconds of process CPU per poll.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.app import create_app
from gateway.config import Settings
from gateway.core.ids import new_video_id
from gateway.core.models import Job, Segment, Status
from gateway.observability import configure_logging

KEY = "sk-inprocess-0000000000000000"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def scope_for(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"user-agent", b"OpenAI/Python 2.8.1"),
            (b"accept", b"application/json"),
            (b"authorization", f"Bearer {KEY}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }


async def call(app: App, path: str) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope_for(path), receive, send)
    return status


async def cpu_per_call(app: App, path: str, n: int) -> float:
    assert await call(app, path) == 200, f"{path} did not answer 200"
    start = time.process_time()
    for _ in range(n):
        await call(app, path)
    return (time.process_time() - start) / n * 1e6


async def run(polls: int, rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="poll-inprocess-"))
    tenants = root / "policies" / "tenants"
    tenants.mkdir(parents=True)
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    quotas = "quotas:\n  requests_per_minute: 100000\n  concurrent_jobs: 1000\n"
    (tenants / "bench.yaml").write_text(f'tenant: bench\napi_keys: ["sha256:{digest}"]\n{quotas}')
    settings = Settings(
        store=f"sqlite:///{root / 'gw.db'}",
        policies=str(root / "policies"),
        data_dir=str(root / "data"),
        upstream="http://127.0.0.1:9/v1",
        upstream_profile="openai-2025-10",
    )
    gateway = create_app(settings)
    job = Job(id=new_video_id(), tenant="bench", model="sora-2", prompt="a poll", size="720x1280", seconds="4")
    job.status, job.progress = Status.IN_PROGRESS, 40
    job.segments = [Segment(index=0, seconds=4, prompt="a poll", upstream_id="video_up", status="in_progress")]
    job.segments[0].next_poll_at = time.time() + 3600
    from benchmarks.ceiling import app as ceiling

    sink = open(os.devnull, "w")  # the log's stream for the whole run
    stdout, sys.stdout = sys.stdout, sink
    try:
        async with gateway.router.lifespan_context(gateway):
            configure_logging("info", "json")
            await gateway.state.ctx.store.put(job)
            for _ in range(rounds):
                ours = await cpu_per_call(gateway, f"/v1/videos/{job.id}", polls)
                bare = await cpu_per_call(ceiling, f"/v1/videos/{job.id}", polls)
                print(f"gateway {ours:7.1f} us/poll   ceiling {bare:6.1f} us/poll   x{ours / bare:4.1f}", file=stdout)
    finally:
        sys.stdout = stdout
        sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.polls, args.rounds))


if __name__ == "__main__":
    main()
