"""The core under trouble: upstream faults and rate limits, graceful shutdown, readiness, missing config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY, calls, sim_stats, start_gateway, store_url
from tests.procs import Proc, start_simulator


def test_upstream_faults_and_429s_lose_nothing_and_pay_once(tmp_path: Path) -> None:
    # content stays downloadable for ~2.4 min of test time, so fetch backoffs after faults cannot outlive it
    sim = start_simulator("--faults", "429=0.3,5xx=0.2,reset=0.05", "--seed", "7", "--content-ttl", "36000")
    gw = start_gateway(sim, tmp_path, store_url("sqlite", tmp_path))
    try:
        client = gw.client()
        ids = [client.videos.create(prompt=f"stormy upstream {i}", seconds="4").id for i in range(8)]
        for video_id in ids:
            done = client.videos.poll(video_id, poll_interval_ms=100)
            assert done.status == "completed", done
        stats = sim_stats(sim)
        assert stats["generations"] == 8, stats
        assert sum(dict(stats.get("faults", {})).values()) > 0, "the simulator injected no faults"  # type: ignore[arg-type]
    finally:
        gw.proc.stop()
        sim.stop()
    assert UPSTREAM_KEY not in gw.proc.logs()


def test_upstream_concurrency_limit_queues_instead_of_failing(tmp_path: Path) -> None:
    sim = start_simulator("--max-concurrent", "2")
    gw = start_gateway(sim, tmp_path, "memory://")
    try:
        client = gw.client()
        ids = [client.videos.create(prompt=f"limited {i}").id for i in range(5)]
        assert all(client.videos.poll(v, poll_interval_ms=100).status == "completed" for v in ids)
        assert sim_stats(sim)["generations"] == 5
    finally:
        gw.proc.stop()
        sim.stop()


def test_sigterm_finishes_cleanly_and_another_process_continues(simulator: Proc, tmp_path: Path) -> None:
    store = store_url("sqlite", tmp_path)
    gw = start_gateway(simulator, tmp_path / "a", store)
    video = gw.client().videos.create(prompt="handover", seconds="12")
    assert gw.proc.stop() in (0, -15)  # uvicorn re-raises SIGTERM after a clean shutdown
    assert '"gateway_stopping"' in gw.proc.logs()
    gw2 = start_gateway(simulator, tmp_path / "b", store)
    try:
        done = gw2.client().videos.poll(video.id, poll_interval_ms=100)
        assert done.status == "completed"
    finally:
        gw2.proc.stop()


def test_readyz_reports_store_upstream_and_policies(simulator: Proc, tmp_path: Path) -> None:
    gw = start_gateway(simulator, tmp_path, "memory://")
    try:
        ready = httpx.get(gw.url + "/readyz").json()
        assert ready["status"] == "ready"
        assert ready["checks"]["store"]["ok"] and ready["checks"]["upstream"]["profile"] == "openai-2025-10"
        assert httpx.get(gw.url + "/healthz").json() == {"status": "ok"}
        models = gw.http().get("/v1/models").json()["data"]
        assert {m["id"] for m in models} == {"sora-2", "sora-2-pro"}
    finally:
        gw.proc.stop()


def test_readyz_fails_when_upstream_is_down(tmp_path: Path) -> None:
    sim = start_simulator()
    gw = start_gateway(sim, tmp_path, "memory://", config="detect_interval_s: 0.2\npoll_min_s: 0.05\n")
    try:
        sim.kill()
        for _ in range(100):
            response = httpx.get(gw.url + "/readyz")
            if response.status_code == 503:
                break
            import time

            time.sleep(0.1)
        assert response.status_code == 503 and response.json()["checks"]["upstream"]["ok"] is False
    finally:
        gw.proc.stop()


@pytest.mark.parametrize("env", [{}, {"OPENAI_API_KEY": ""}])
def test_serve_without_upstream_key_says_how_to_fix_it(env: dict[str, str], tmp_path: Path) -> None:
    secret_vars = ("OPENAI_API_KEY", "SORA_GATEWAY_UPSTREAM_API_KEY")
    clean = {k: v for k, v in os.environ.items() if k not in secret_vars}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--store", "memory://", "--allow-anonymous"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "SORA_GATEWAY_UPSTREAM_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_file_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text("port: 8080\nstore: memory://\npoll_min_s: soon\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        env={**os.environ, "SORA_GATEWAY_UPSTREAM_API_KEY": "k"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and f"{config}:3:" in result.stderr and "poll_min_s" in result.stderr


def test_keys_hash_matches_sha256() -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "keys", "hash", "sk-abc"], capture_output=True, text=True)
    import hashlib

    assert out.stdout.strip() == "sha256:" + hashlib.sha256(b"sk-abc").hexdigest()


def test_client_polls_never_call_upstream_per_poll(simulator: Proc, tmp_path: Path) -> None:
    gw = start_gateway(simulator, tmp_path, "memory://")
    try:
        video = gw.client().videos.create_and_poll(prompt="done already", poll_interval_ms=100)
        before = calls(simulator, "retrieve")
        with gw.http() as http:
            for _ in range(200):
                assert http.get(f"/v1/videos/{video.id}").status_code == 200
        assert calls(simulator, "retrieve") == before
    finally:
        gw.proc.stop()
