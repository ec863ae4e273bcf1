"""Upstream status calls with many jobs in flight: polling against provider callbacks.

    .venv/bin/python -m benchmarks.callbacks [--jobs 200] [--seconds 60] [--profile minimax-hailuo]
                                             [--modes polling,callbacks]

For each mode, starts the profile's simulator at real time (its jobs take minutes, so they stay in flight for
the whole window) and a gateway in front of it: ``polling`` without
``public_base_url``, ``callbacks`` with it (on the gateway's own address, the default
``callback_safety_poll_s``). Creates ``--jobs`` videos, waits until the simulator has every create, then
counts the status calls the simulator answers (and, for callbacks, the callbacks the gateway received) over
``--seconds``; also the busiest 20 s window of status calls from the first create on (sampled once a second).
Prints one line per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import threading
import time
from typing import Any

import httpx

from benchmarks.stack import KEY, free_port, new_stack
from gateway.providers import CATALOG

UPSTREAM_KEY = "sk-upstream-bench-0000000000"
KLING_KEY = "ak-bench-0001:sk-bench-SECRET-0123456789"  # Kling's keys are ACCESS:SECRET
STATUS_OPS = {
    "ark-seedance": ("ark_get", "ark_list"),
    "minimax-hailuo": ("mm_query",),
    "luma-dream-machine": ("dm_get", "dm_list"),
    "luma": ("luma_get",),
    "kling": ("kling_query", "kling_list"),
    "gemini-veo": ("veo_retrieve",),
    "runway": ("runway_task",),
    "dashscope-wan": ("wan_task", "wan_list"),
    "openai-2025-10": ("retrieve", "list"),
    "azure-sora-1": ("azure_retrieve", "azure_list"),
}
CREATE_OPS = {
    "ark-seedance": "ark_create",
    "minimax-hailuo": "mm_create",
    "luma-dream-machine": "dm_create",
    "luma": "luma_create",
    "kling": "kling_text2video",
    "gemini-veo": "veo_create",
    "runway": "runway_text_to_video",
    "dashscope-wan": "wan_create",
    "openai-2025-10": "create",
    "azure-sora-1": "azure_create",
}
WINDOW_S = 20  # the target: at most 3 status calls a second over any 20 s window, from the first create


class Sampler(threading.Thread):
    """The simulator's status-call total once a second, from the first create: the busiest 20 s window."""

    def __init__(self, sim_url: str, ops: tuple[str, ...]) -> None:
        super().__init__(daemon=True)
        self.sim_url, self.ops = sim_url, ops
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            calls = sim_calls(self.sim_url)
            self.samples.append((time.monotonic(), sum(calls.get(op, 0) for op in self.ops)))
            self.stop.wait(1.0)

    def busiest(self) -> float:
        """Most status calls in any ``WINDOW_S`` seconds, per second."""
        best = 0
        for i, (start, first) in enumerate(self.samples):
            inside = [n for at, n in self.samples[i:] if at - start <= WINDOW_S + 0.5]
            best = max(best, inside[-1] - first)
        return best / WINDOW_S


def sim_calls(sim_url: str) -> dict[str, int]:
    return dict(httpx.get(sim_url + "/_sim/stats", timeout=10).json()["calls"])


def callbacks_received(gateway_url: str) -> dict[str, float]:
    text = httpx.get(gateway_url + "/metrics", timeout=10).text
    found = re.findall(r'^sora_gateway_upstream_callbacks_total\{result="(\w+)"\} (\S+)$', text, re.M)
    return {result: float(value) for result, value in found}


async def create_all(gateway_url: str, jobs: int) -> float:
    limits = httpx.Limits(max_connections=16)
    headers = {"Authorization": f"Bearer {KEY}"}
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, limits=limits, timeout=120) as http:
        gate = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            async with gate:
                body = {"prompt": f"a benchmark lighthouse, take {n}", "seconds": "4", "size": "1280x720"}
                answer = await http.post("/v1/videos", json=body)
                answer.raise_for_status()

        await asyncio.gather(*(one(n) for n in range(jobs)))
    return time.monotonic() - started


def run(mode: str, profile: str, jobs: int, seconds: float, extra: str = "") -> dict[str, Any]:
    stack = new_stack()
    key = KLING_KEY if profile == "kling" else UPSTREAM_KEY
    env = {**os.environ, "BENCH_UPSTREAM_KEY": key}
    sim_port, gw_port = free_port(), free_port()
    sim_args = ["simulator", "--port", str(sim_port), "--profile", profile, "--time-scale", "1.0"]
    stack._start([*sim_args, "--api-key", key], sim_port, "/_sim/stats", env)
    sim_url = f"http://127.0.0.1:{sim_port}"
    (stack.root / "policies" / "tenants").mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    (stack.root / "policies" / "tenants" / "bench.yaml").write_text(f'tenant: bench\napi_keys: ["sha256:{digest}"]\n')
    config = "driver_tick_s: 0.05\n" + (extra.replace("\\n", "\n") + "\n" if extra else "")
    url = sim_url + CATALOG.simulator_profiles()[profile].base_path
    config += f"upstreams:\n  - {{url: {url}, api_key_env: BENCH_UPSTREAM_KEY, profile: {profile}}}\n"
    if mode == "callbacks":
        config += f"public_base_url: http://127.0.0.1:{gw_port}\n"
    (stack.root / "gateway.yaml").write_text(config)
    args = ["serve", "--port", str(gw_port), "--store", "memory://", "--policies", str(stack.root / "policies")]
    args += ["--data-dir", str(stack.root / "data"), "--config", str(stack.root / "gateway.yaml")]
    stack._start([*args, "--log-level", "warning"], gw_port, "/healthz", env)
    gateway_url = f"http://127.0.0.1:{gw_port}"
    sampler = Sampler(sim_url, STATUS_OPS[profile])
    try:
        sampler.start()
        started = time.monotonic()
        took = asyncio.run(create_all(gateway_url, jobs))
        deadline = time.monotonic() + 120
        while sim_calls(sim_url).get(CREATE_OPS[profile], 0) < jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        upstream_s = time.monotonic() - started
        before, heard = sim_calls(sim_url), callbacks_received(gateway_url)
        time.sleep(seconds)
        after, heard_after = sim_calls(sim_url), callbacks_received(gateway_url)
        sampler.stop.set()
        sampler.join()
        status = sum(after.get(op, 0) - before.get(op, 0) for op in STATUS_OPS[profile])
        return {
            "creates_s": took,
            "created": after.get(CREATE_OPS[profile], 0),
            "status_calls": status,
            "per_s": status / seconds,
            "upstream_s": upstream_s,
            "busiest_per_s": sampler.busiest(),
            "callbacks": {k: v - heard.get(k, 0) for k, v in heard_after.items() if v - heard.get(k, 0)},
        }
    finally:
        sampler.stop.set()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--profile", choices=sorted(STATUS_OPS), default="minimax-hailuo")
    parser.add_argument("--config", default="", help="extra gateway.yaml lines, e.g. 'status_calls_per_s: 0'")
    parser.add_argument("--modes", default="polling,callbacks")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        got = run(mode, args.profile, args.jobs, args.seconds, args.config)
        print(
            f"{args.profile} {mode:9s} jobs={got['created']:.0f} (accepted in {got['creates_s']:.1f}s, all sent "
            f"upstream in {got['upstream_s']:.1f}s) status calls in {args.seconds:g}s: {got['status_calls']:.0f} "
            f"({got['per_s']:.2f}/s), busiest {WINDOW_S} s from the first create: {got['busiest_per_s']:.2f}/s, "
            f"callbacks received: {got['callbacks']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
