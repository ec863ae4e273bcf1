"""Start real processes (simulator, gateway) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REDIS_URL = os.environ.get("SORA_GATEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def require_redis() -> None:
    """Skip locally without Redis; in CI (CI=true) a missing Redis is a failure."""
    import pytest

    if redis_available():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Redis is required in CI but {REDIS_URL} is not reachable")
    pytest.skip(f"Redis not reachable at {REDIS_URL}")


@dataclass
class Proc:
    """A real child process serving HTTP on ``port``."""

    args: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    wrap: list[str] = field(default_factory=list)  # a command prefix, e.g. tests.dnsserver.resolving_with

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/healthz", timeout: float = 30.0) -> Proc:
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="sora-gw-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        env = {**os.environ, **self.env}
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            [*self.wrap, sys.executable, "-m", "gateway", *self.args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"process exited early ({self.popen.returncode}):\n{self.logs()}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"process not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (graceful shutdown)."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode


def start_simulator(*extra: str, profile: str = "openai-2025-10", time_scale: float = 0.004, **env: str) -> Proc:
    port = free_port()
    args = ["simulator", "--port", str(port), "--profile", profile, "--time-scale", str(time_scale), *extra]
    return Proc(args, port, env=dict(env)).start(ready_path="/_sim/stats")
