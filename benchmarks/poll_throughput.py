"""Client polls per second a gateway answers for GET /v1/videos/{id}, and what reached the upstream.

    .venv/bin/python -m benchmarks.poll_throughput [--seconds 10] [--connections 32] [--tool auto|wrk|python]

Polls a running job (the simulator is slowed so it stays queued) with ``wrk`` when it is installed
(``apt-get install wrk``), else with an asyncio + httpx load generator. Prints requests/s, latency
and the upstream retrieves counted by the simulator during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import time

import httpx

from benchmarks.stack import KEY, new_stack


async def python_load(url: str, seconds: float, connections: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, limits=limits, timeout=30) as http:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await http.get(url)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200

        await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    stack = new_stack().start(time_scale=1.0)  # jobs stay queued for 10 s, then run for a minute
    try:
        with stack.http() as http:
            video_id = http.post("/v1/videos", json={"prompt": "a slow benchmark", "seconds": "4"}).json()["id"]
        url = f"{stack.gateway_url}/v1/videos/{video_id}"
        before = stack.upstream_calls("retrieve")
        if tool == "wrk":
            command = ["wrk", "-t1", f"-c{args.connections}", f"-d{int(args.seconds)}s", "--latency"]
            out = subprocess.run(
                [*command, "-H", f"Authorization: Bearer {KEY}", url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            print(out.rstrip())
        else:
            count, latencies = asyncio.run(python_load(url, args.seconds, args.connections))
            quantiles = statistics.quantiles(latencies, n=100)
            print(f"python load generator: {args.connections} connections, {args.seconds:g} s")
            p50, p99 = quantiles[49] * 1000, quantiles[98] * 1000
            print(f"requests/s: {count / args.seconds:.0f}  p50 {p50:.1f} ms  p99 {p99:.1f} ms")
        print(f"upstream retrieves during the run: {stack.upstream_calls('retrieve') - before}")
    finally:
        stack.stop()
        shutil.rmtree(stack.root, ignore_errors=True)


if __name__ == "__main__":
    main()
