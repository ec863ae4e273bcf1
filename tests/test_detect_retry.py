"""An inconclusive detection at start is retried within seconds, not after ``detect_interval_s``."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import FAST_CONFIG, start_gateway
from tests.procs import start_simulator, wait_for


def test_an_inconclusive_start_becomes_ready_without_waiting_for_the_interval(tmp_path: Path) -> None:
    sim = start_simulator("--faults", "5xx=1.0", profile="openai-2026-03")
    config = FAST_CONFIG.replace("detect_interval_s: 0", "detect_interval_s: 300")
    gw = start_gateway(sim, tmp_path, "memory://", config=config)
    try:
        ready = httpx.get(gw.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert "could not detect" in str(ready.json()["checks"]["upstream"]["error"])
        assert httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10).status_code == 200
        # retried after 1, 2, 4 ... s: ready long before the 300 s interval
        wait_for(lambda: httpx.get(gw.url + "/readyz", timeout=10).status_code == 200, "readiness", timeout=90)
        upstream = httpx.get(gw.url + "/readyz", timeout=10).json()["checks"]["upstream"]
        assert upstream["profile"] == "openai-2026-03" and upstream["error"] is None
    finally:
        gw.proc.stop()
        sim.stop()
