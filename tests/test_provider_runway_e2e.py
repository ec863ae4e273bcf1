"""The gateway in front of the simulated Runway API, driven with the official ``openai`` SDK and plain HTTP.

Real processes (simulator, gateway), real MP4s measured with PyAV: code written for Sora gets exactly the
length and size it asked, made by Runway's models, told what was changed in ``x-sora-gateway-adapted``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.media.probe import probe_duration, probe_video
from tests.conftest import FAST_CONFIG, Gateway, calls, sim_stats, start_gateway
from tests.procs import Proc, start_simulator

KEY = "key_" + "fedcba9876543210" * 8  # the gateway's Runway key (Runway's shape: key_ and 128 hex digits)
CREATES = ("runway_text_to_video", "runway_image_to_video")
# Runway asks for polls no more often than every 5 s: poll_max_s caps that hint for a quick test
CONFIG = FAST_CONFIG + "poll_max_s: 0.2\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator("--api-key", KEY, profile="runway", time_scale=0.004)
    gw = start_gateway(
        sim,
        tmp_path_factory.mktemp("runway"),
        "memory://",
        "--upstream",
        sim.url,  # Runway's base URL is the host itself (https://api.dev.runwayml.com)
        "--upstream-profile",
        "runway",
        config=CONFIG,
        env={"SORA_GATEWAY_UPSTREAM_API_KEY": KEY},
    )
    yield sim, gw
    gw.proc.stop()
    sim.stop()
    assert KEY not in gw.proc.logs() and KEY[4:40] not in gw.proc.logs()


def creates(sim: Proc) -> dict[str, int]:
    return {op: calls(sim, op) for op in CREATES}


def measure(path: Path) -> tuple[int, int, float]:
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


def check_video(path: Path, size: str, seconds: float) -> None:
    width, height, duration = measure(path)
    assert f"{width}x{height}" == size and abs(duration - seconds) <= 0.1, (width, height, duration)


@pytest.mark.parametrize(
    ("seconds", "size", "adapted", "parts"),
    [
        ("8", "1280x720", "model=sora-2->veo3.1_fast; size=1280x720->1280:720", {"runway_text_to_video": 1}),
        (
            "12",
            "720x1280",
            "model=sora-2->veo3.1_fast; size=720x1280->720:1280; seconds=12->6+6(stitched)",
            {"runway_text_to_video": 1, "runway_image_to_video": 1},  # the second part starts from the first's end
        ),
    ],
)
def test_sora_requests_get_exactly_what_they_asked(
    stack: tuple[Proc, Gateway], tmp_path: Path, seconds: str, size: str, adapted: str, parts: dict[str, int]
) -> None:
    sim, gw = stack
    client = gw.client()
    before = creates(sim)
    create = client.videos.with_raw_response.create
    raw = create(model="sora-2", prompt="a tram in the rain", seconds=seconds, size=size)  # type: ignore[arg-type]
    assert raw.headers["x-sora-gateway-adapted"] == adapted and KEY not in raw.text
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    assert (done.model, done.size, done.seconds) == ("sora-2", size, seconds)
    body = done.to_dict()
    assert body["provider"] == "runway" and body["upstream_model"] == "veo3.1_fast"
    assert body["adapted"] == adapted.split("; ")
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(done.id).write_to_file(mp4)
    check_video(mp4, size, float(seconds))
    assert {op: n - before[op] for op, n in creates(sim).items() if n - before[op]} == parts


def wait_generation(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    for _ in range(1200):
        body: dict[str, Any] = http.get(f"/v1/video/generations/{generation_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{generation_id} never finished")


def test_seed_dialect_20_seconds_at_1080p_with_a_native_negative_prompt(
    stack: tuple[Proc, Gateway], tmp_path: Path
) -> None:
    sim, gw = stack
    before = creates(sim)
    body = {
        "model": "sora-2",
        "prompt": "a lighthouse in a storm, waves crashing",
        "duration_seconds": 20,
        "resolution": "1080p",
        "negative_prompt": "text, watermark",
    }
    with gw.http() as http:
        created = http.post("/v1/video/generations", json=body)
        assert created.status_code == 200, created.text
        assert created.headers["x-sora-gateway-adapted"] == (
            "model=sora-2->veo3.1_fast; resolution=1080p->1920:1080; duration_seconds=20->8+6+6(stitched); "
            "negative_prompt->native"
        )
        done = wait_generation(http, created.json()["id"])
        assert done["status"] == "completed", done
        (item,) = done["data"]
        assert item["metadata"]["resolution"] == "1920x1080" and item["metadata"]["duration_ms"] == 20000
        video = http.get(item["url"])
    assert video.status_code == 200 and KEY.encode() not in video.content
    mp4 = tmp_path / "seed.mp4"
    mp4.write_bytes(video.content)
    check_video(mp4, "1920x1080", 20.0)
    after = creates(sim)
    assert (after["runway_text_to_video"] - before["runway_text_to_video"]) == 1
    assert (after["runway_image_to_video"] - before["runway_image_to_video"]) == 2


def test_a_prompt_runway_refuses_fails_once_as_moderation_blocked(stack: tuple[Proc, Gateway]) -> None:
    sim, gw = stack
    client = gw.client()
    before, generations = creates(sim), sim_stats(sim)["generations"]
    created = client.videos.create(model="sora-2", prompt="a forbidden ritual at night", seconds="8", size="1280x720")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "moderation_blocked"
    assert "SAFETY.INPUT.TEXT" in done.error.message and "moderation" in done.error.message
    assert creates(sim)["runway_text_to_video"] == before["runway_text_to_video"] + 1  # never retried
    assert sim_stats(sim)["generations"] == generations + 1 and KEY not in str(done.to_dict())


def test_a_create_whose_answer_was_lost_is_never_sent_again(stack: tuple[Proc, Gateway]) -> None:
    """Runway has no idempotency key and no listing: a create that may have reached it is not re-sent blind."""
    sim, gw = stack
    client = gw.client()
    before, generations = creates(sim), sim_stats(sim)["generations"]
    httpx.post(sim.url + "/_sim/faults", json={"faults": "reset=1"})  # every call: the connection drops unanswered
    try:
        created = client.videos.create(model="sora-2", prompt="a quiet harbour", seconds="4", size="1280x720")
        done = client.videos.poll(created.id, poll_interval_ms=100)
    finally:
        httpx.post(sim.url + "/_sim/faults", json={"faults": ""})
    assert done.status == "failed" and done.error is not None and done.error.code == "upstream_outcome_unknown"
    assert creates(sim)["runway_text_to_video"] == before["runway_text_to_video"] + 1
    assert sim_stats(sim)["generations"] == generations  # (the simulated drop happened before the task was made)
