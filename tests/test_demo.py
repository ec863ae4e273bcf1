"""`sora-gateway demo` is the front door: one process, a printed key, the official SDK works against it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from openai import OpenAI

from gateway.media.probe import probe_duration
from tests.procs import Proc, free_port


def test_demo_prints_a_working_base_url_and_key(tmp_path: Path) -> None:
    port = free_port()
    demo = Proc(["demo", "--port", str(port), "--time-scale", "0.004"], port).start(ready_path="/healthz")
    try:
        for _ in range(100):
            if "demo key" in demo.logs():
                break
            time.sleep(0.1)
        text = demo.logs()
        base = re.search(r"base URL\s+(\S+)", text)
        key = re.search(r"demo key\s+(\S+)", text)
        assert base and key, text
        assert "client.videos.create_and_poll" in text
        client = OpenAI(base_url=base.group(1), api_key=key.group(1), max_retries=0)
        video = client.videos.create_and_poll(prompt="the demo works", seconds="4", poll_interval_ms=100)
        assert video.status == "completed"
        out = tmp_path / "demo.mp4"
        client.videos.download_content(video.id).write_to_file(out)
        assert abs(probe_duration(out) - 4) < 0.2
    finally:
        code = demo.stop()
    work = re.search(r"(\S*sora-gateway-demo-[^/\s]+)", demo.logs())
    assert work, demo.logs()
    assert code == 0 and not Path(work.group(1)).exists(), "the demo left its temporary directory behind"


def test_the_banner_commands_run_as_printed_without_the_venv_on_path(tmp_path: Path) -> None:
    """`sora-gateway` is on PATH only while its venv is active: the banner prints what runs anyway (issue 22, 11)."""
    port = free_port()
    bare = {"PATH": "/usr/bin:/bin"}  # a new terminal, venv not activated
    demo = Proc(["demo", "--port", str(port), "--time-scale", "0.004"], port, env=bare).start(ready_path="/healthz")
    try:
        for _ in range(100):
            if "Ctrl-C stops it" in demo.logs():
                break
            time.sleep(0.1)
        text = demo.logs()
        block = text.split("The client command (another terminal):", 1)[1].split("The official SDK", 1)[0]
        commands = [line.strip() for line in block.splitlines() if line.strip()]
        assert commands[0].startswith("export OPENAI_BASE_URL=") and " generate " in commands[1], commands
        program = shlex.split(commands[1])[0]
        assert Path(program).name == "sora-gateway" and shutil.which(program, path=bare["PATH"]), program
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
            cwd=tmp_path,
            env=bare,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert abs(probe_duration(tmp_path / "lighthouse.mp4") - 10) < 0.2
        sdk = re.search(r"install it with (.+) install openai; run this with (\S+)\)", text)
        assert sdk, text
        for word in (shlex.split(sdk.group(1))[0], sdk.group(2)):  # pip and python: real programs too
            assert shutil.which(word, path=bare["PATH"]), word
    finally:
        assert demo.stop() == 0
