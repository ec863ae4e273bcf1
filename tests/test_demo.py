"""`sora-gateway demo` is the front door: one process, a printed key, the official SDK works against it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai import OpenAI

from gateway.media.probe import probe_duration, probe_video
from gateway.providers import CATALOG
from tests.procs import Proc, free_port, wait_for


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


@pytest.mark.parametrize("profile", ["kling", "gemini-veo"])
def test_the_demo_runs_on_a_provider_profile(profile: str, tmp_path: Path) -> None:
    """`demo --profile NAME` on a live provider's simulator (its own base path and dialect): a Sora client's video."""
    port = free_port()
    args = ["demo", "--port", str(port), "--time-scale", "0.004", "--profile", profile]
    demo = Proc(args, port).start(ready_path="/healthz")
    try:
        wait_for(lambda: "demo key" in demo.logs(), "the demo banner")
        text = demo.logs()
        base = re.search(r"base URL\s+(\S+)", text)
        key = re.search(r"demo key\s+(\S+)", text)
        assert base and key, text
        mapped = CATALOG.capabilities(profile).base_model("sora-2")
        assert f"sora-2 -> {mapped}" in text and f"(profile {profile}," in text
        client = OpenAI(base_url=base.group(1), api_key=key.group(1), max_retries=0)
        created = client.videos.create(prompt="the demo works", model="sora-2", seconds="8", size="1280x720")
        video = client.videos.poll(created.id, poll_interval_ms=100)
        assert video.status == "completed", video.error
        assert video.model_extra is not None and video.model_extra["provider"] == profile
        assert video.model_extra["upstream_model"] == mapped
        out = tmp_path / "demo.mp4"
        client.videos.download_content(video.id).write_to_file(out)
        info = probe_video(out)
        assert (int(info["width"]), int(info["height"])) == (1280, 720) and abs(probe_duration(out) - 8) < 0.2
        listed = {m.id for m in client.models.list()}
        assert {"sora-2", "sora-2-pro", mapped} <= listed
    finally:
        assert demo.stop() == 0


def test_demo_help_names_every_profile() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for profile in CATALOG.simulator_profiles():
        assert profile in shown, profile
