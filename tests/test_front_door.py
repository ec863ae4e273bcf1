"""The front door, as a new user meets it: the demo banner and its curl tour, logs, policies, refusals.

Each test is one thing a new user tripped over (issue 12, item 4) checked by running it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from gateway.media.probe import probe_duration
from gateway.media.render import Segment, render_video
from gateway.pipeline.content_policy import ContentPolicyStage
from gateway.policies.loader import load_policies
from tests.procs import Proc, free_port, start_simulator

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "policies"


def start_demo(*extra: str) -> Proc:
    port = free_port()
    demo = Proc(["demo", "--port", str(port), "--time-scale", "0.004", *extra], port).start()
    deadline = time.monotonic() + 30
    while "Ctrl-C stops it" not in demo.logs():
        assert time.monotonic() < deadline, demo.logs()
        time.sleep(0.1)
    return demo


def banner_value(text: str, label: str) -> str:
    found = re.search(rf"^\s+{label}\s+(\S+)", text, re.M)
    assert found, text
    return found.group(1)


def test_the_demo_banner_curl_tour_runs_as_printed(tmp_path: Path) -> None:
    demo = start_demo("--data-dir", str(tmp_path / "keep"))
    try:
        text = demo.logs()
        tour = text.split("or curl", 1)[1].split("Simulated videos", 1)[0]
        commands = "\n".join(line[4:] for line in tour.splitlines()[1:] if line.startswith("    "))
        assert "curl -sf -o out.mp4" in commands and "until curl" in commands
        port = banner_value(text, "base URL").split(":")[2].split("/")[0]
        readme = (ROOT / "README.md").read_text().split("With curl, keep the id", 1)[1]
        readme_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
        assert readme_block.replace(":8080/", f":{port}/").strip() == commands.strip()  # the README says the same
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert abs(probe_duration(tmp_path / "out.mp4") - 4.0) < 0.15  # the video, not an error JSON
        lines = done.stdout.splitlines()
        usage = json.loads(lines[0])  # each JSON answer on a line of its own (the `; echo`)
        assert usage["object"] == "gateway.usage" and usage["usage"]["video_seconds_today"] == 4
        assert json.loads(lines[1])["status"] == "ready"
        assert any(line.startswith("sora_gateway_") for line in lines[2:])

        # the admin key the banner prints opens the admin view; the console is where it says
        admin = banner_value(text, "admin key")
        base = banner_value(text, "base URL")
        every = httpx.get(base + "/gateway/admin/usage", headers={"Authorization": f"Bearer {admin}"})
        assert every.status_code == 200 and every.json()["data"][0]["tenant"] == "demo"
        console = httpx.get(banner_value(text, "console"))
        assert console.status_code == 200 and "API key" in console.text
        assert "/v1/gateway/usage" in text and "sora-gateway generate" in text
    finally:
        assert demo.stop() == 0
    # --data-dir keeps the videos after Ctrl-C (without it the demo deletes them: test_demo.py)
    kept = list((tmp_path / "keep" / "data" / "content").rglob("*.mp4"))
    assert kept and "the videos stay in" in demo.logs()


def test_start_and_stop_lines_appear_once_and_are_not_called_errors(tmp_path: Path) -> None:
    demo = start_demo()
    demo.stop()
    text = demo.logs()
    for line in ("Started server process", "Application startup complete", "Finished server process"):
        assert text.count(line) == 1, (line, text)
    assert "uvicorn.error" not in text and "simulator_started" in text


def test_the_simulator_logs_json_lines_like_the_gateway() -> None:
    sim = start_simulator()
    httpx.get(sim.url + "/_sim/stats")
    sim.stop()
    lines = [line for line in sim.logs().splitlines() if line.strip()]
    assert lines
    events = [json.loads(line) for line in lines]  # every line is a JSON object
    assert events[0]["event"] == "simulator_started" and events[0]["profile"] == "openai-2025-10"
    assert {"event", "level", "timestamp"} <= set(events[1])
    assert not any(e.get("logger") == "uvicorn.error" for e in events)


def policies_check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "policies", "check", str(directory)], capture_output=True, text=True
    )


def test_a_policies_directory_without_tenants_is_refused(tmp_path: Path) -> None:
    empty = policies_check(tmp_path)
    assert empty.returncode == 1 and "no tenants" in empty.stderr and "ok:" not in empty.stdout
    tenants_dir = policies_check(SHIPPED / "tenants")
    assert tenants_dir.returncode == 2  # a usage error, like a file given for the folder (issue 22, item 7)
    assert f"sora-gateway policies check {SHIPPED}" in tenants_dir.stderr  # the directory it meant
    serve = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--policies", str(tmp_path), "--store", "memory://"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SORA_GATEWAY_UPSTREAM_API_KEY": "sk-upstream-0123456789"},
        timeout=60,
    )
    assert serve.returncode == 1 and "no tenants" in serve.stderr and "Traceback" not in serve.stderr + serve.stdout
    _, problems = load_policies(tmp_path, require_tenants=False)  # what serve --allow-anonymous loads
    assert problems == []


def test_a_length_refusal_names_the_rule_set_that_set_the_limit() -> None:
    policy, problems = load_policies(SHIPPED)
    assert not problems
    acme = policy.tenants["acme"]  # its defaults say 4000; the included brand-safety set says 2000
    with pytest.raises(Exception) as refused:
        ContentPolicyStage.check_length("acme", acme.policy, "x" * 2500)
    message = refused.value.message  # type: ignore[attr-defined]
    assert "of rule set 'content/brand-safety'" in message and "at most 2000" in message, message
    with pytest.raises(Exception) as styled:
        ContentPolicyStage.check_style("acme", acme.policy, "anime")
    assert "rule set 'tenant:acme" in styled.value.message  # type: ignore[attr-defined]


def test_variations_of_a_prompt_render_visibly_different_pixels(tmp_path: Path) -> None:
    def middle_frame(prompt: str) -> np.ndarray:
        path = tmp_path / f"{abs(hash(prompt))}.mp4"
        render_video(path, [Segment(prompt, 1)], 72, 128)
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return frames[len(frames) // 2].astype(int)

    base = "a red kite over the dunes"
    same = middle_frame(base), middle_frame(base)
    assert np.array_equal(*same)  # identical prompts, identical pixels (said in the README)
    for clause in ("Variation 2: at dusk.", "Variation 3: from above."):
        other = middle_frame(f"{base} {clause}")
        differing = np.mean(np.abs(other - same[0]).sum(axis=2) > 60)
        assert differing > 0.5, (clause, differing)  # most pixels change, not a few


def test_pyproject_license_is_an_spdx_string() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # a table warns on every install (setuptools>=77)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert "setuptools>=77" in requires


def test_urls_handed_out_use_public_base_url_never_the_host_header(tmp_path: Path) -> None:
    from tests.conftest import KEYS, start_gateway

    sim = start_simulator()
    public = start_gateway(
        sim, tmp_path / "a", "memory://", env={"SORA_GATEWAY_PUBLIC_BASE_URL": "https://gw.example/"}
    )
    bound = start_gateway(sim, tmp_path / "b", "memory://")
    try:
        for gw, base in ((public, "https://gw.example"), (bound, bound.url)):
            with gw.http() as http:
                headers = {"Host": "evil.example"}
                made = http.post("/v1/video/generations", json={"prompt": "a url", "duration_seconds": 4})
                video_id = made.json()["id"]
                deadline = time.monotonic() + 60
                while not (body := http.get(f"/v1/video/generations/{video_id}", headers=headers).json())["data"]:
                    assert time.monotonic() < deadline, body
                    time.sleep(0.1)
                assert body["data"][0]["url"] == f"{base}/v1/videos/{video_id}/content"
        assert KEYS["acme"] not in public.proc.logs()
    finally:
        public.proc.stop()
        bound.proc.stop()
        sim.stop()
