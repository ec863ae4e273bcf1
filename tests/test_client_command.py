"""`sora-gateway generate|status|download` against real processes: a simulator and a gateway.

The command runs as a child process (``python -m gateway``) with the SDK's variables or flags; the
videos it writes are measured with PyAV; Ctrl-C is a real SIGINT to the child.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.media.probe import probe_duration
from tests.conftest import KEYS, Gateway, calls, start_gateway
from tests.procs import Proc, start_simulator, wait_for

ACME = KEYS["acme"]


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator(time_scale=0.05)
    gw = start_gateway(sim, tmp_path_factory.mktemp("client-fast"), "memory://")
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def client_env(gw: Gateway | None, key: str | None = ACME, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    if gw is not None:
        env["OPENAI_BASE_URL"] = gw.url + "/v1"
    if key is not None:
        env["OPENAI_API_KEY"] = key
    return {**env, **extra}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def test_generate_draws_a_progress_bar_adapts_and_downloads(fast: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = fast
    # a terminal as far as rich can tell: the bar is redrawn in place as the job's progress grows
    env = client_env(gw, TTY_COMPATIBLE="1", TTY_INTERACTIVE="1", COLUMNS="120")
    done = run(
        ["generate", "a lighthouse at dawn", "--seconds", "10", "--size", "1920x1080", "-o", "lh.mp4"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    video_id = re.match(r"(video_[0-9a-f]+) completed ", line)
    assert video_id, line
    for part in ("10s", "1280x720", "sora-2", "$1.20", "size=1920x1080->1280x720", "seconds=10->12(trimmed to 10)"):
        assert part in line, (part, line)
    assert "wrote lh.mp4" in line
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stderr)
    # redrawn in place as the progress grows: queued 0%, at least one step in progress, completed 100%
    shown = [int(p) for p in re.findall(r"(?:queued|in_progress|completed) [━╸╺ ]+ (\d+)%", plain)]
    steps = [p for p in shown if 0 < p < 100]
    assert steps and shown == sorted(shown) and shown[0] == 0 and shown[-1] == 100, plain
    assert re.search(r"completed ━+ +100%", plain), plain
    assert abs(probe_duration(tmp_path / "lh.mp4") - 10.0) < 0.15
    # status: the same video, its cost and what was adapted
    status = run(["status", video_id.group(1)], env, tmp_path)
    assert status.returncode == 0, status.stderr
    assert "completed" in status.stdout and "$1.20" in status.stdout and "seconds=10->12" in status.stdout


def test_progress_in_a_log_is_plain_lines(fast: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = fast
    done = run(["generate", "a quiet harbour", "--seconds", "4"], client_env(gw), tmp_path)
    assert done.returncode == 0, done.stderr
    video_id = done.stdout.split()[0]
    assert re.search(rf"^{video_id} (queued|in_progress) \d+%$", done.stderr, re.M), done.stderr
    assert re.search(rf"^{video_id} completed 100%$", done.stderr, re.M), done.stderr
    assert "\x1b[" not in done.stderr  # no escape codes in a log
    assert abs(probe_duration(tmp_path / f"{video_id}.mp4") - 4.0) < 0.15  # default name: <id>.mp4


def test_flags_work_like_the_sdk_variables(fast: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = fast
    env = client_env(None, key=None)
    args = ["--base-url", gw.url + "/v1", "--api-key", ACME]
    gen = ["generate", "a red kite", "--seconds", "4", "--style", "cinematic", "-o", "k.mp4"]
    done = run([*gen, *args], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "style_preset->prompt" in done.stdout
    thumb = run(["download", done.stdout.split()[0], "--variant", "thumbnail", "-o", "k.webp", *args], env, tmp_path)
    assert thumb.returncode == 0, thumb.stderr
    assert (tmp_path / "k.webp").read_bytes()[8:12] == b"WEBP"


def test_failures_exit_1_with_the_api_message(fast: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = fast
    too_long = run(["generate", "a long one", "--seconds", "999", "-o", "x.mp4"], client_env(gw), tmp_path)
    assert too_long.returncode == 1
    assert "sora-gateway generate: error: Invalid 'seconds': 999 seconds exceeds the maximum of 120." in too_long.stderr
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.mp4.part").exists()

    bad_key = run(["status", "video_" + "0" * 48], client_env(gw, key="sk-wrong-key-000000"), tmp_path)
    assert bad_key.returncode == 1 and "API key" in bad_key.stderr, bad_key.stderr
    assert "sk-wrong-key-000000" not in bad_key.stderr + bad_key.stdout

    unknown = run(["download", "video_" + "0" * 48, "-o", "y.mp4"], client_env(gw), tmp_path)
    assert unknown.returncode == 1 and "error:" in unknown.stderr and not (tmp_path / "y.mp4").exists()

    no_key = run(["status", "video_x"], client_env(gw, key=None), tmp_path)
    assert no_key.returncode == 2 and "OPENAI_API_KEY" in no_key.stderr

    nobody = run(["status", "video_x", "--base-url", "http://127.0.0.1:9/v1"], client_env(None), tmp_path)
    assert nobody.returncode == 1 and "cannot reach http://127.0.0.1:9/v1" in nobody.stderr
    assert "Traceback" not in too_long.stderr + bad_key.stderr + unknown.stderr + nobody.stderr


# The command as the user runs it from a terminal: Ctrl-C raises KeyboardInterrupt. A child inherits an ignored
# SIGINT from a test run started in the background (`./scripts/test &`, some CI runners), and Python then never
# installs its handler: the SIGINT below would be ignored and the command would finish (exit 0).
INTERACTIVE = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('gateway', run_name='__main__', alter_sys=True)"
)


def test_ctrl_c_leaves_the_job_running_and_the_resume_command_works(tmp_path: Path) -> None:
    sim = start_simulator(time_scale=0.5)  # a 4 s video takes ~30 s: it cannot finish before the interrupt
    gw = start_gateway(sim, tmp_path / "gw", "memory://")
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", INTERACTIVE, "generate", "a slow sunrise", "--seconds", "4", "-o", "sun.mp4"],
            env=client_env(gw),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stderr is not None
        seen: list[str] = []
        while True:  # wait until the command shows the job's progress, then press Ctrl-C
            line = child.stderr.readline()
            assert line, f"the command ended before showing progress: {seen}"
            seen.append(line)
            if re.match(r"video_[0-9a-f]+ (queued|in_progress) \d+%", line):
                break
        assert child.poll() is None, "the command ended before the interrupt"
        video_id = line.split()[0]
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 130, (out, err)
        assert "Traceback" not in err
        resume = re.search(r"^  (\S*sora-gateway download .+)$", err, re.M)
        assert resume, err
        words = shlex.split(resume.group(1))
        assert Path(words[0]).name == "sora-gateway" and shutil.which(words[0]), words  # runs as printed
        assert words[1:] == ["download", video_id, "-o", "sun.mp4"]
        assert not (tmp_path / "sun.mp4").exists()

        # the job was left alone: still unfinished and not failed right after the interrupt
        http = gw.http()
        video = http.get(f"/v1/videos/{video_id}").json()
        assert video["status"] in ("queued", "in_progress"), video

        again = run(words[1:], client_env(gw), tmp_path)
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith(f"{video_id} completed 4s")
        assert abs(probe_duration(tmp_path / "sun.mp4") - 4.0) < 0.15
        assert calls(sim, "create") == 1  # one paid generation, picked up where it was

        def finished() -> bool:
            return http.get(f"/v1/videos/{video_id}").json()["status"] == "completed"

        wait_for(finished, "the video completed")
    finally:
        gw.proc.stop()
        sim.stop()


def test_cost_usd_is_on_the_video_object(fast: tuple[Proc, Gateway]) -> None:
    _, gw = fast
    client = gw.client()
    video = client.videos.create_and_poll(prompt="cost check", seconds="8", size="1792x1024", poll_interval_ms=50)
    assert video.status == "completed"
    raw = httpx.get(f"{gw.url}/v1/videos/{video.id}", headers={"Authorization": f"Bearer {ACME}"}, timeout=10).json()
    assert raw["cost_usd"] == pytest.approx(0.8)  # 8 s of sora-2 at $0.10 (size mapped to 1280x720)
    hit = client.videos.create(prompt="cost check", seconds="8", size="1792x1024")
    assert getattr(hit, "cost_usd", None) == 0.0  # a cache hit costs nothing
    listed = httpx.get(f"{gw.url}/v1/videos", headers={"Authorization": f"Bearer {ACME}"}, timeout=10).json()
    assert all("cost_usd" in v for v in listed["data"])


def test_a_failed_video_exits_1_with_its_error(tmp_path: Path) -> None:
    sim = start_simulator("--faults", "fail=1", time_scale=0.004)  # every generation fails upstream
    gw = start_gateway(sim, tmp_path / "gw", "memory://")
    try:
        done = run(["generate", "doomed", "--seconds", "4", "-o", "d.mp4"], client_env(gw), tmp_path)
        assert done.returncode == 1, (done.stdout, done.stderr)
        video_id = re.search(r"(video_[0-9a-f]+)", done.stderr)
        assert video_id and f"sora-gateway generate: error: {video_id.group(1)} failed: " in done.stderr
        assert not (tmp_path / "d.mp4").exists() and done.stdout == ""
        status = run(["status", video_id.group(1)], client_env(gw), tmp_path)
        assert status.returncode == 1 and " failed " in status.stdout and "error:" in status.stderr
    finally:
        gw.proc.stop()
        sim.stop()


def test_a_cache_hit_says_so_and_costs_nothing(fast: tuple[Proc, Gateway], tmp_path: Path) -> None:
    _, gw = fast
    args = ["generate", "the same harbour twice", "--seconds", "4"]
    first = run([*args, "-o", "one.mp4"], client_env(gw), tmp_path)
    again = run([*args, "-o", "two.mp4"], client_env(gw), tmp_path)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert "$0.40" in first.stdout and "cache:" not in first.stdout
    assert "$0.00" in again.stdout and "cache: hit" in again.stdout, again.stdout
    assert (tmp_path / "one.mp4").read_bytes() == (tmp_path / "two.mp4").read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_a_reused_idempotency_key_gives_the_same_video_and_one_generation(tmp_path: Path) -> None:
    sim = start_simulator(time_scale=0.004)
    gw = start_gateway(sim, tmp_path / "gw", "memory://")
    try:
        key = "client-test-" + os.urandom(6).hex()
        args = ["generate", "one paid lighthouse", "--seconds", "4", "--idempotency-key", key]
        first = run([*args, "-o", "one.mp4"], client_env(gw), tmp_path)
        again = run([*args, "-o", "two.mp4"], client_env(gw), tmp_path)
        assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
        assert first.stdout.split()[0] == again.stdout.split()[0]  # replayed: the same video, not a cache copy
        assert calls(sim, "create") == 1
        assert (tmp_path / "one.mp4").read_bytes() == (tmp_path / "two.mp4").read_bytes()
        # the command sent that key: another body under it is refused by the gateway
        reused = httpx.post(
            f"{gw.url}/v1/videos",
            json={"prompt": "another video", "seconds": "4"},
            headers={"Authorization": f"Bearer {ACME}", "Idempotency-Key": key},
            timeout=30,
        )
        assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
        # without the flag each run sends a fresh key: a different prompt is not refused as a reuse
        fresh = run(["generate", "a second lighthouse", "--seconds", "4", "-o", "three.mp4"], client_env(gw), tmp_path)
        assert fresh.returncode == 0, fresh.stderr
        assert calls(sim, "create") == 2
    finally:
        gw.proc.stop()
        sim.stop()


def test_a_create_that_times_out_is_retried_once_with_the_same_key(tmp_path: Path) -> None:
    # every upstream create takes effect, then its answer is held 7 s: the command's 5 s timeout expires
    # on the first try; the retry (same key) is answered when the first create's answer comes
    sim = start_simulator("--faults", "late=1,slow_s=7", time_scale=0.004)
    gw = start_gateway(sim, tmp_path / "gw", "memory://")
    try:
        gen = ["generate", "a slow answer", "--seconds", "4", "-o", "s.mp4", "--timeout", "5"]
        done = run(gen, client_env(gw), tmp_path)
        assert done.returncode == 0, done.stderr
        assert calls(sim, "create") == 1  # one paid generation: the retry was answered with its video
        video_id = done.stdout.split()[0]
        assert abs(probe_duration(tmp_path / "s.mp4") - 4.0) < 0.15
        listed = httpx.get(f"{gw.url}/v1/videos", headers={"Authorization": f"Bearer {ACME}"}, timeout=30).json()
        assert [v["id"] for v in listed["data"]] == [video_id]
    finally:
        gw.proc.stop()
        sim.stop()
