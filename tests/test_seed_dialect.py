"""The seed guide's dialect (``/v1/video/generations``) over every upstream profile, real processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.media.probe import probe_duration, probe_video
from gateway.providers import PROFILES
from tests.conftest import UPSTREAM_KEY, Stack, sim_stats
from tests.procs import Proc

O25, O26, AZ = "openai-2025-10", "openai-2026-03", "azure-sora-1"


def wait_done(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = http.get(f"/v1/video/generations/{generation_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{generation_id} never finished")


@pytest.mark.parametrize("profile", [O25, O26, AZ])
def test_seed_request_downloads_a_25_second_video(profile: str, stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    sim, gw = stacks(profile)
    body = {
        "prompt": "a hot air balloon over vineyards",
        "duration_seconds": 25,
        "resolution": "1080p",
        "style_preset": "cinematic",
        "negative_prompt": "people, text overlays",
    }
    with gw.http() as http:
        created = http.post("/v1/video/generations", json=body)
        assert created.status_code == 200, created.text
        first = created.json()
        assert set(first) >= {"id", "created", "status", "data"} and first["data"] == []
        assert first["status"] in ("queued", "in_progress") and isinstance(first["created"], int)
        adapted = created.headers["x-sora-gateway-adapted"]
        assert "duration_seconds=25->" in adapted and "style_preset->prompt" in adapted
        assert "negative_prompt->prompt" in adapted
        done = wait_done(http, first["id"])
        assert done["status"] == "completed", done
        (item,) = done["data"]
        caps = PROFILES[profile]
        assert item["metadata"]["duration_ms"] == 25000 and item["metadata"]["format"] == "mp4"
        assert item["metadata"]["resolution"] in caps.models[caps.base_model(caps.default_model) or ""]
        assert item["url"] == f"{gw.url}/v1/videos/{first['id']}/content"
        video = http.get(item["url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    mp4 = tmp_path / "seed.mp4"
    mp4.write_bytes(video.content)
    assert abs(probe_duration(mp4) - 25.0) <= 1 / probe_video(mp4)["fps"]
    prompts = upstream_prompts(sim)
    assert any("Style: cinematic film look" in p and "Avoid: people, text overlays." in p for p in prompts)


def upstream_prompts(sim: Proc) -> list[str]:
    """The prompts the gateway sent upstream (read back from the simulator with the gateway's key)."""
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    if sim_stats(sim)["profile"] == AZ:
        url, params = "/openai/v1/video/generations/jobs", {"api-version": "preview", "limit": 100}
    else:
        url, params = "/v1/videos", {"limit": 100}
    with httpx.Client(base_url=sim.url, headers=headers) as http:
        return [str(v["prompt"]) for v in http.get(url, params=params).json()["data"]]


def test_seed_webm_and_the_same_job_on_both_faces(stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    _, gw = stacks(O25)
    with gw.http() as http:
        created = http.post(
            "/v1/video/generations", json={"prompt": "a snail", "duration_seconds": "6", "output_format": "webm"}
        ).json()
        done = wait_done(http, created["id"])
        (item,) = done["data"]
        assert item["metadata"]["format"] == "webm" and item["metadata"]["duration_ms"] == 6000
        video = http.get(item["url"])
        assert video.headers["content-type"] == "video/webm"
        same = http.get(f"/v1/videos/{created['id']}").json()  # one job, two dialects
        assert same["status"] == "completed" and same["seconds"] == "6" and same["adapted"] == done["adapted"]
    webm = tmp_path / "seed.webm"
    webm.write_bytes(video.content)
    info = probe_video(webm)
    assert info["codec"] == "vp9" and abs(info["duration"] - 6.0) <= 1 / info["fps"]
    with gw.http("globex") as other:
        assert other.get(f"/v1/video/generations/{created['id']}").status_code == 404


def test_seed_bad_input_names_the_seed_field(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks(O25)
    before = sim_stats(sim)["generations"]
    cases: list[tuple[dict[str, Any], int, str | None, str]] = [
        ({"duration_seconds": 5}, 400, "prompt", "Missing required parameter"),
        ({"prompt": "x", "resolution": "huge"}, 400, "resolution", "is not a size"),
        ({"prompt": "x", "duration_seconds": -5}, 400, "duration_seconds", "positive whole number"),
        ({"prompt": "x", "duration_seconds": 600}, 400, "duration_seconds", "maximum of 120"),
        ({"prompt": "x", "duration_seconds": True}, 400, "duration_seconds", "expected a number"),
        ({"prompt": "x", "style_preset": "vaporwave"}, 400, "style_preset", "known: 8mm, animation"),
        ({"prompt": "x", "output_format": "avi"}, 400, "output_format", "mp4, webm"),
        ({"prompt": "x", "model": "veo-3"}, 400, "model", "not available"),
        ({"prompt": "x", "fps": 60}, 400, "fps", "Unknown parameter"),
    ]
    with gw.http() as http:
        for body, status, param, fragment in cases:
            response = http.post("/v1/video/generations", json=body)
            error = response.json()["error"]
            assert response.status_code == status and set(error) == {"message", "type", "param", "code"}, body
            assert error["param"] == param and fragment in error["message"], (body, error)
        missing = http.get("/v1/video/generations/video_nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    with gw.http(None) as anonymous:
        assert anonymous.post("/v1/video/generations", json={"prompt": "x"}).status_code == 401
    assert sim_stats(sim)["generations"] == before
