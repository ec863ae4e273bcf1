"""Start a simulator and a gateway as real processes for a benchmark; make one finished video."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

KEY = "sk-bench-0000000000000000"
UPSTREAM_KEY = "sk-upstream-bench-0000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Stack:
    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    gateway_url: str = ""
    gateway_pid: int = 0
    simulator_url: str = ""

    def _start(self, args: list[str], port: int, ready: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{args[0]}-{port}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "gateway", *args], stdout=log, stderr=log, env=env)
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code < 500:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{args[0]} did not start; see {self.root}")

    def start(self, *, time_scale: float = 0.004, store: str | None = None, config: str = "") -> Stack:
        env = {**os.environ, "SORA_GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY}
        sim_port, gw_port = free_port(), free_port()
        self._start(
            ["simulator", "--port", str(sim_port), "--time-scale", str(time_scale)], sim_port, "/_sim/stats", env
        )
        self.simulator_url = f"http://127.0.0.1:{sim_port}"
        tenants = self.root / "policies" / "tenants"
        tenants.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(KEY.encode()).hexdigest()
        (tenants / "bench.yaml").write_text(f'tenant: bench\napi_keys: ["sha256:{digest}"]\n')
        (self.root / "gateway.yaml").write_text(config or "poll_min_s: 0.05\ndriver_tick_s: 0.05\n")
        args = ["serve", "--port", str(gw_port), "--upstream", f"http://127.0.0.1:{sim_port}/v1"]
        args += ["--store", store or f"sqlite:///{self.root / 'gw.db'}", "--policies", str(self.root / "policies")]
        args += ["--data-dir", str(self.root / "data"), "--config", str(self.root / "gateway.yaml")]
        args += ["--log-level", "warning"]
        gateway = self._start(args, gw_port, "/healthz", env)
        self.gateway_url, self.gateway_pid = f"http://127.0.0.1:{gw_port}", gateway.pid
        return self

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)

    def finished_video(self, prompt: str = "benchmark clip") -> str:
        with self.http() as http:
            video_id = str(http.post("/v1/videos", json={"prompt": prompt, "seconds": "4"}).json()["id"])
            while http.get(f"/v1/videos/{video_id}").json()["status"] not in ("completed", "failed"):
                time.sleep(0.05)
        return video_id

    def upstream_calls(self, operation: str) -> int:
        stats = httpx.get(self.simulator_url + "/_sim/stats", timeout=10).json()
        return int(stats["calls"].get(operation, 0))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def new_stack() -> Stack:
    return Stack(Path(tempfile.mkdtemp(prefix="sora-gw-bench-")))
