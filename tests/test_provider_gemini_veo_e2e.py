"""Google Veo behind the gateway, end to end: the official ``openai`` SDK (and the seed dialect) asks, the
simulated Gemini API (profile ``gemini-veo``, real process) makes it, PyAV measures what comes back.

Sora-style asks get exactly their length and size: Veo makes the nearest shape (``16:9@720p``...), clips of
4/6/8 s (1080p only 8 s) are chained with last-frame continuity and stitched, and ``x-sora-gateway-adapted``
says so. Veo's safety filter fails the job ``moderation_blocked`` with Veo's reason after one create; a
create whose answer was lost is never sent again (Veo has no listing to look for it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.media.probe import probe_duration, probe_video
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Gateway, calls, sim_stats, start_gateway
from tests.procs import Proc, start_simulator

FAST = "veo-3.1-fast-generate-preview"
Stack = tuple[Proc, Gateway]


@pytest.fixture(scope="module")
def veo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sim = start_simulator("--api-key", UPSTREAM_KEY, profile="gemini-veo", time_scale=0.004)
    config = FAST_CONFIG + f"upstreams:\n  - {{url: {sim.url}/v1beta, api_key_env: VEO_API_KEY, profile: gemini-veo}}\n"
    gw = start_gateway(
        sim, tmp_path_factory.mktemp("veo"), "memory://", config=config, env={"VEO_API_KEY": UPSTREAM_KEY}
    )
    yield sim, gw
    gw.proc.stop()
    leaked = calls(sim, "veo_storage_key_sent")
    sim.stop()
    assert UPSTREAM_KEY not in gw.proc.logs()
    assert leaked == 0  # the signed storage URLs never got the key


def measure(path: Path) -> tuple[str, float]:
    info = probe_video(path)
    return f"{info['width']}x{info['height']}", probe_duration(path)


def no_key(response: httpx.Response | Any) -> None:
    assert UPSTREAM_KEY not in response.text and UPSTREAM_KEY not in str(response.headers)


@pytest.mark.parametrize(
    ("seconds", "size", "notes", "creates"),
    [
        ("8", "1280x720", ["size=1280x720->16:9@720p"], 1),
        ("12", "720x1280", ["size=720x1280->9:16@720p", "seconds=12->6+6(stitched)"], 2),
    ],
)
def test_sora_asks_get_exactly_their_length_and_size(
    veo: Stack, tmp_path: Path, seconds: str, size: str, notes: list[str], creates: int
) -> None:
    sim, gw = veo
    client = gw.client()
    before = calls(sim, "veo_create")
    raw = client.videos.with_raw_response.create(
        prompt="a paper boat on a pond", model="sora-2", seconds=seconds, size=size
    )
    no_key(raw.http_response)
    assert raw.headers["x-sora-gateway-adapted"].split("; ") == [f"model=sora-2->{FAST}", *notes]
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    video = done.to_dict()
    assert video["provider"] == "gemini-veo" and video["upstream_model"] == FAST
    assert (done.seconds, done.size, video["adapted"]) == (seconds, size, [f"model=sora-2->{FAST}", *notes])
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(done.id).write_to_file(mp4)
    made, length = measure(mp4)
    assert made == size and abs(length - int(seconds)) <= 0.1
    assert calls(sim, "veo_create") - before == creates


def test_the_seed_dialects_20_seconds_at_1080p_with_a_negative_prompt(veo: Stack, tmp_path: Path) -> None:
    sim, gw = veo
    before = calls(sim, "veo_create")
    body = {"prompt": "a glider over dunes", "duration_seconds": 20, "resolution": "1080p", "negative_prompt": "text"}
    with gw.http() as http:
        created = http.post("/v1/video/generations", json=body)
        assert created.status_code == 200, created.text
        no_key(created)
        assert created.headers["x-sora-gateway-adapted"].split("; ") == [
            "resolution=1080p->16:9@1080p",
            "duration_seconds=20->8+8+8(stitched,trimmed to 20)",
            "negative_prompt->native",  # Veo's own negativePrompt, not a prompt clause
        ]
        generation_id = created.json()["id"]
        for _ in range(1200):
            done = http.get(f"/v1/video/generations/{generation_id}").json()
            if done["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        assert done["status"] == "completed", done
        video = http.get(f"/v1/videos/{generation_id}")
        no_key(video)
        assert video.json()["upstream_model"] == FAST and video.json()["provider"] == "gemini-veo"
        mp4 = tmp_path / "seed.mp4"
        mp4.write_bytes(http.get(f"/v1/videos/{generation_id}/content").content)
    made, length = measure(mp4)
    assert made == "1920x1080" and abs(length - 20.0) <= 0.1
    assert calls(sim, "veo_create") - before == 3


def test_the_safety_filter_fails_one_job_with_veos_reason(veo: Stack) -> None:
    sim, gw = veo
    client = gw.client()
    before = calls(sim, "veo_create")
    created = client.videos.create(prompt="a forbidden ritual", seconds="8", size="1280x720")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "moderation_blocked" and "You will not be charged" in done.error.message
    assert calls(sim, "veo_create") - before == 1  # never retried


def test_a_create_whose_answer_was_lost_is_never_sent_again(veo: Stack) -> None:
    sim, gw = veo
    before, generations = calls(sim, "veo_create"), sim_stats(sim)["generations"]
    assert httpx.post(sim.url + "/_sim/faults", json={"faults": "reset=1"}).status_code == 200
    try:
        with gw.http() as http:
            created = http.post("/v1/videos", json={"prompt": "a kite", "seconds": "4", "size": "1280x720"})
            assert created.status_code == 200, created.text
            for _ in range(600):
                video = http.get(f"/v1/videos/{created.json()['id']}").json()
                if video["status"] == "failed":
                    break
                time.sleep(0.05)
    finally:
        httpx.post(sim.url + "/_sim/faults", json={"faults": ""})
    assert video["status"] == "failed" and video["error"]["code"] == "upstream_outcome_unknown", video
    assert calls(sim, "veo_create") - before == 1 and sim_stats(sim)["generations"] == generations
