"""Drive a server with ``wrk`` (pinned to its own core) and read back requests/s, p50 and bytes/s.

Without ``wrk`` (``apt-get install wrk``) an asyncio + httpx generator stands in; it is itself the
bottleneck on a small machine, so its figures are floors, and the suite says which tool it used.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CREATE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local counter = 0
local seed = {seed}
request = function()
  counter = counter + 1
  local body = '{{"prompt": "bench ' .. seed .. ' ' .. counter .. '", "seconds": "4"}}'
  return wrk.format(nil, nil, nil, body)
end
"""
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


@dataclass
class Result:
    rps: float
    p50_ms: float
    mb_s: float
    requests: int
    errors: int
    tool: str
    cpu_us: float = 0.0  # the server's CPU per request (all its threads and worker processes)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their live children (nginx's workers), from /proc."""
    total, seen, todo = 0.0, set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(out: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    mb_s = float(transfer.group(1)) * _BYTES[transfer.group(2)] / 1024**2 if transfer else 0.0
    return Result(
        rps=rps,
        p50_ms=_seconds(p50.group(1)) * 1000 if p50 else 0.0,
        mb_s=mb_s,
        requests=int(total.group(1)) if total else 0,
        errors=errors,
        tool="wrk",
    )


def run_wrk(url: str, *, connections: int, seconds: float, cpu: str, key: str | None, create: bool = False) -> Result:
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(CREATE_LUA.format(auth=auth, seed=random.randrange(1, 10**9)) if create else auth + "\n")
    command = ["taskset", "-c", cpu, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["--timeout", "30s", "-s", script.name, url]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    return parse_wrk(out)


async def _python_load(url: str, connections: int, seconds: float, key: str | None, create: bool) -> Result:
    latencies: list[float] = []
    received = errors = 0
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:
        deadline = time.monotonic() + seconds

        async def worker(n: int) -> None:
            nonlocal received, errors
            i = 0
            while time.monotonic() < deadline:
                i += 1
                started = time.perf_counter()
                if create:
                    response = await http.post(url, json={"prompt": f"bench {n} {i} {started}", "seconds": "4"})
                else:
                    response = await http.get(url)
                latencies.append(time.perf_counter() - started)
                received += len(response.content)
                errors += response.status_code >= 400

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(connections)))
        elapsed = time.monotonic() - started
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    return Result(len(latencies) / elapsed, p50, received / elapsed / 1024**2, len(latencies), errors, "python")


def run(
    url: str,
    *,
    connections: int,
    seconds: float,
    cpu: str,
    key: str | None,
    create: bool = False,
    pids: list[int] | None = None,
) -> Result:
    """Load ``url``; with ``pids``, also the server's CPU per request (robust on a shared machine)."""
    before = cpu_seconds(pids or [])
    if have_wrk():
        result = run_wrk(url, connections=connections, seconds=seconds, cpu=cpu, key=key, create=create)
    else:
        result = asyncio.run(_python_load(url, connections, seconds, key, create))
    if pids and result.requests:
        result.cpu_us = (cpu_seconds(pids) - before) * 1e6 / result.requests
    return result
