"""Capability detection: the right profile for each upstream, for free; pinning; picking up a change live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.providers import CATALOG, PROFILES
from gateway.upstreams.base import UpstreamError
from gateway.upstreams.detect import detect
from gateway.upstreams.runtime import narrowed
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Gateway, calls, sim_stats, start_gateway
from tests.procs import start_simulator

O25, O26, AZ = "openai-2025-10", "openai-2026-03", "azure-sora-1"
EXPECTED_MODELS = {O25: {"sora-2", "sora-2-pro"}, O26: {"sora-2", "sora-2-pro"}, AZ: {"sora-2", "sora-2-pro", "sora"}}


def ready(gw: Gateway) -> dict[str, object]:
    return dict(httpx.get(gw.url + "/readyz").json()["checks"]["upstream"])


@pytest.mark.parametrize("profile", [O25, O26, AZ])
def test_each_profile_is_detected_without_spending(profile: str, tmp_path: Path) -> None:
    sim = start_simulator(profile=profile)
    gw = start_gateway(sim, tmp_path, "memory://")
    try:
        upstream = ready(gw)
        assert upstream["ok"] and upstream["profile"] == profile and not upstream["pinned"]
        assert upstream["dialect"] == PROFILES[profile].dialect and upstream["evidence"]
        stats = sim_stats(sim)
        assert stats["generations"] == 0 and stats["jobs"] == 0  # nothing was generated to find out
        models = gw.http().get("/v1/models").json()["data"]
        assert {m["id"] for m in models} == EXPECTED_MODELS[profile]
        native = models[-1]  # the Sora names first, then the upstream's own models
        caps = native["capabilities"]
        assert caps["upstream_profile"] == profile and caps["max_seconds"] == 120
        assert caps["long_videos"] == ("extend" if profile == O26 else "chain")
        assert "cinematic" in caps["style_presets"] and caps["output_formats"] == ["mp4", "webm"]
        assert set(caps["sizes"]) == set(PROFILES[profile].models[native["id"]])
        if profile == AZ:
            assert caps["also_answers_to"] == ["sora-1", "sora-2", "sora-2-pro"]
            assert [m["maps_to"] for m in models[:2]] == [
                [{"upstream_profile": AZ, "provider": PROFILES[AZ].provider or AZ, "model": "sora"}]
            ] * 2
    finally:
        gw.proc.stop()
        sim.stop()
    assert UPSTREAM_KEY not in gw.proc.logs()


def test_a_pinned_profile_overrides_detection(tmp_path: Path) -> None:
    sim = start_simulator(profile=O26)
    gw = start_gateway(sim, tmp_path, "memory://", "--upstream-profile", O25)
    try:
        upstream = ready(gw)
        assert upstream["profile"] == O25 and upstream["pinned"] is True
        assert calls(sim, "extend") == 0 and calls(sim, "models") == 0  # no probing at all
        with gw.http() as http:
            video = http.post("/v1/videos", json={"prompt": "a dune", "seconds": "16"})
            assert video.headers["x-sora-gateway-adapted"] == "seconds=16->8+8(stitched)"  # not extended
            extend = {"video": {"id": video.json()["id"]}, "prompt": "more", "seconds": "4"}
            refused = http.post("/v1/videos/extensions", json=extend)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "unsupported_by_upstream"
    finally:
        gw.proc.stop()
        sim.stop()


def test_an_upstream_version_change_is_picked_up_without_restart(tmp_path: Path) -> None:
    sim = start_simulator(profile=O25)
    gw = start_gateway(
        sim, tmp_path, "memory://", config=FAST_CONFIG.replace("detect_interval_s: 0", "detect_interval_s: 0.2")
    )

    def switch(profile: str) -> None:
        httpx.post(sim.url + "/_sim/profile", json={"profile": profile}).raise_for_status()
        for _ in range(200):
            if ready(gw)["profile"] == profile:
                return
            time.sleep(0.05)
        raise AssertionError(f"the gateway never noticed {profile}: {ready(gw)}")

    try:
        assert ready(gw)["profile"] == O25
        switch(O26)
        long = gw.http().post("/v1/videos", json={"prompt": "a comet", "seconds": "16"})
        assert long.headers["x-sora-gateway-adapted"] == "seconds=16->12+4(extended)"
        finished = gw.client().videos.poll(long.json()["id"], poll_interval_ms=100)
        assert finished.status == "completed" and calls(sim, "extend") >= 1
        switch(AZ)  # another dialect: the adapter is swapped as well
        client = gw.client()
        done = client.videos.create_and_poll(prompt="a quiet harbour", seconds="5", poll_interval_ms=100)
        assert done.status == "completed" and done.model == "sora" and done.size == "1280x720"
        assert calls(sim, "azure_create") == 1
    finally:
        gw.proc.stop()
        sim.stop()


def test_an_unknown_pinned_profile_stops_the_start(tmp_path: Path) -> None:
    env = {**os.environ, "SORA_GATEWAY_UPSTREAM_API_KEY": "sk-x", "SORA_GATEWAY_UPSTREAM_PROFILE": "openai-1999"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--policies", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "openai-1999" in result.stderr and AZ in result.stderr


# -- unit level: the detection decisions, against a scripted upstream

Script = dict[tuple[str, str], list[int]]  # (method, path) -> statuses answered in turn (the last repeats)


def scripted(script: Script, models: list[str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        statuses = script.get((request.method, request.url.path), [404])
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status == 200 and request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": m} for m in models or []]})
        return httpx.Response(status, json={"error": {"message": "scripted"}} if status >= 400 else {"data": []})

    return answer


async def run(script: Script, base: str = "https://up.example/v1", models: list[str] | None = None) -> str:
    found = await detect(base, "sk-k", CATALOG.probes(), transport=httpx.MockTransport(scripted(script, models)))
    return found.profile


async def test_detection_decisions() -> None:
    models, probe = ("GET", "/v1/models"), ("POST", "/v1/videos/extensions")
    azure = ("GET", "/openai/v1/video/generations/jobs")
    assert await run({models: [200], probe: [404]}) == O25
    assert await run({models: [200], probe: [400]}) == O26
    assert await run({models: [200], probe: [422]}) == O26
    assert await run({azure: [200], ("GET", "/openai/v1/models"): [200]}) == AZ
    # a transient answer is retried, never taken for "absent"
    assert await run({models: [200], probe: [503, 429, 400]}) == O26
    assert await run({models: [502, 200], probe: [404]}) == O25
    with pytest.raises(UpstreamError, match="inconclusive"):
        await run({models: [200], probe: [500]})
    with pytest.raises(UpstreamError) as err:
        await run({models: [401]})
    assert err.value.status == 401
    with pytest.raises(UpstreamError, match="refused"):  # an explicit Azure base with a bad key
        await run({("GET", "/openai/v1/video/generations/jobs"): [401]}, base="https://res.example/openai/v1")


async def test_detection_learns_the_model_list() -> None:
    script: Script = {("GET", "/v1/models"): [200], ("POST", "/v1/videos/extensions"): [404]}
    found = await detect(
        "https://up.example/v1", "k", CATALOG.probes(), transport=httpx.MockTransport(scripted(script, ["sora-2"]))
    )
    caps = narrowed(PROFILES[found.profile], found.models)
    assert list(caps.models) == ["sora-2"] and caps.default_model == "sora-2"
    assert narrowed(PROFILES[O25], ["gpt-4o"]) is PROFILES[O25]  # nothing recognisable: keep the table
    assert narrowed(PROFILES[O25], ["sora-2-pro-2025-10-06"]).default_model == "sora-2-pro"
    print(json.dumps(found.evidence))


async def test_evidence_lists_every_probe_the_azure_one_too() -> None:
    script: Script = {("GET", "/v1/models"): [200], ("POST", "/v1/videos/extensions"): [404]}
    found = await detect(
        "https://up.example/v1", "k", CATALOG.probes(), transport=httpx.MockTransport(scripted(script))
    )
    assert found.evidence == [
        "GET /openai/v1/video/generations/jobs -> 404",
        "GET /v1/models -> 200",
        "POST /v1/videos/extensions -> 404",
    ]
