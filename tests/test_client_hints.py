"""What `sora-gateway generate` tells a newcomer (issue 22, items 6 and 11): a gateway that is not running,
a create that may have reached it, the progress bar on an 80-column terminal, one log line per 10 %.

Real processes: a simulator and a gateway, the command as a child process; "not running" is a port nobody
listens on, "may have reached it" a socket that takes the request and never answers.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import KEYS, Gateway, start_gateway
from tests.procs import Proc, free_port, start_simulator


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator(time_scale=0.02)  # a 4 s video runs ~1 s: its progress moves in big steps
    gw = start_gateway(sim, tmp_path_factory.mktemp("hints"), "memory://")
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def env_for(base_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = KEYS["acme"]
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    return {**env, **extra}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def runnable(word: str) -> bool:
    """A printed command's first word names a program that exists (a path, or a name PATH finds)."""
    return shutil.which(word) is not None


def test_a_gateway_that_is_not_running_says_nothing_was_sent_and_where_it_looked(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # bound and released: nobody listens there
    done = run(["generate", "a lighthouse", "--seconds", "4", "--base-url", url], env_for(None), tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"sora-gateway generate: error: cannot reach {url}" in done.stderr
    assert "nothing was sent: no video was made and nothing was charged" in done.stderr
    assert f"is the gateway running at {url} (from --base-url)? check --base-url / OPENAI_BASE_URL" in done.stderr
    # no advice to retry with a key: a refused connection proves no create reached anything
    assert "Idempotency-Key" not in done.stderr and "--idempotency-key" not in done.stderr
    assert "may have made" not in done.stderr and "Traceback" not in done.stderr
    demo = re.search(r"`([^`]+) demo` runs one at http://127\.0\.0\.1:8080/v1", done.stderr)
    assert demo and runnable(shlex.split(demo.group(1))[0]), done.stderr  # the hint names a real program

    by_env = run(["status", "video_x"], env_for(url), tmp_path)
    assert by_env.returncode == 1 and f"is the gateway running at {url} (from OPENAI_BASE_URL)?" in by_env.stderr


class BlackHole:
    """A port that accepts a connection and reads the request, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            conn.settimeout(5)
            try:
                self.received.append(conn.recv(65536))
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_create_that_may_have_arrived_prints_its_key_and_a_runnable_retry(tmp_path: Path) -> None:
    hole = BlackHole()
    try:
        url = f"http://127.0.0.1:{hole.port}/v1"
        gen = ["generate", "a lost answer", "--seconds", "4", "-o", "l.mp4", "--base-url", url, "--timeout", "1"]
        done = run(gen, env_for(None), tmp_path)
    finally:
        hole.close()
    assert done.returncode == 1, done.stderr
    assert len(hole.received) == 2 and all(r.startswith(b"POST /v1/videos") for r in hole.received)  # try + retry
    assert "may have made the video (Idempotency-Key " in done.stderr and "nothing was sent" not in done.stderr
    retry = re.search(r"^  (.+ generate .+)$", done.stderr, re.M)
    assert retry, done.stderr
    words = shlex.split(retry.group(1))
    assert runnable(words[0]) and Path(words[0]).name == "sora-gateway", words  # runs as printed
    key = words[words.index("--idempotency-key") + 1]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", key)  # a uuid4
    assert words[1:-2] == [*gen] and KEYS["acme"] not in done.stderr
    assert all(f"idempotency-key: {key}".encode() in r.lower() for r in hole.received)  # the same key twice


def test_the_progress_bar_stays_readable_on_an_80_column_terminal(stack: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = stack
    env = env_for(gw.url + "/v1", TTY_COMPATIBLE="1", TTY_INTERACTIVE="1", COLUMNS="80")
    done = run(["generate", "a narrow terminal", "--seconds", "4", "-o", "n.mp4"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    video_id = done.stdout.split()[0]
    assert f"created {video_id}" in done.stderr  # the full id is shown once, above the bar
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stderr)
    frames = [f for line in plain.splitlines() for f in line.split("\r") if "%" in f]
    assert frames and all(len(f) <= 80 for f in frames), frames
    short = re.escape(f"{video_id[:10]}…{video_id[-4:]}")  # video_0661…a9f3
    final = re.search(rf"{short} completed (━+) +100% (\d+:\d\d:\d\d)", plain)
    assert final, plain
    assert len(final.group(1)) >= 30, final.group(0)  # a bar, not 3 cells squeezed by a 54-character id


def test_a_log_gets_one_plain_line_per_10_percent(stack: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = stack
    done = run(["generate", "a log of steps", "--seconds", "4", "-o", "s.mp4"], env_for(gw.url + "/v1"), tmp_path)
    assert done.returncode == 0, done.stderr
    video_id = done.stdout.split()[0]
    lines = re.findall(rf"^{video_id} (queued|in_progress|completed) (\d+)%$", done.stderr, re.M)
    steps = [int(p) for status, p in lines if status == "in_progress" and int(p) % 10 == 0 and int(p) > 0]
    assert steps == list(range(10, 100, 10)), done.stderr  # every 10 % once, in order, although polls jump
    assert lines[0][0] == "queued" and lines[-1] == ("completed", "100"), lines
    assert [int(p) for _, p in lines] == sorted(int(p) for _, p in lines), lines
    assert "\x1b[" not in done.stderr
