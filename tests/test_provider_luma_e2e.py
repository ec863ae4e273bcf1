"""The gateway in front of the simulated Luma Agents API, driven with the official ``openai`` SDK and plain HTTP.

Real processes (simulator, gateway), real MP4s measured with PyAV: code written for Sora gets exactly the
length and size it asked, made by ``ray-3.2``, told what was changed in ``x-sora-gateway-adapted``.
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

KEY = "luma-api-" + "fedcba9876543210" * 4  # the gateway's Luma key
# Luma is polled every 5 s by its hint: poll_max_s caps that for a quick test
CONFIG = FAST_CONFIG + "poll_max_s: 0.2\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator("--api-key", KEY, profile="luma", time_scale=0.004)
    gw = start_gateway(
        sim,
        tmp_path_factory.mktemp("luma"),
        "memory://",
        "--upstream-profile",
        "luma",  # the upstream URL is the simulator's …/v1, as Luma's is https://agents.lumalabs.ai/v1
        config=CONFIG,
        env={"SORA_GATEWAY_UPSTREAM_API_KEY": KEY},
    )
    yield sim, gw
    gw.proc.stop()
    sim.stop()
    assert KEY not in gw.proc.logs() and KEY[9:40] not in gw.proc.logs()


def measure(path: Path) -> tuple[int, int, float]:
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


def check_video(path: Path, size: str, seconds: float) -> None:
    width, height, duration = measure(path)
    assert f"{width}x{height}" == size and abs(duration - seconds) <= 0.1, (width, height, duration)


@pytest.mark.parametrize(
    ("model", "seconds", "size", "adapted", "upstream_model", "creates"),
    [
        (
            "sora-2",
            "8",
            "1280x720",
            "model=sora-2->ray-3.2-720p; size=1280x720->16:9@720p; seconds=8->5+5(stitched,trimmed to 8)",
            "ray-3.2-720p",
            2,
        ),
        (
            "sora-2",
            "12",
            "720x1280",
            "model=sora-2->ray-3.2-720p; size=720x1280->9:16@720p; seconds=12->5+5+5(stitched,trimmed to 12)",
            "ray-3.2-720p",
            3,
        ),
        (  # sora-2-pro reaches Luma's 1080p: 1792x1024 is made at 1920x1080 and scaled
            "sora-2-pro",
            "4",
            "1792x1024",
            "model=sora-2-pro->ray-3.2; size=1792x1024->16:9@1080p(1920x1080,scaled to 1792x1024); "
            "seconds=4->5(trimmed to 4)",
            "ray-3.2",
            1,
        ),
    ],
)
def test_sora_requests_get_exactly_what_they_asked(
    stack: tuple[Proc, Gateway],
    tmp_path: Path,
    model: str,
    seconds: str,
    size: str,
    adapted: str,
    upstream_model: str,
    creates: int,
) -> None:
    sim, gw = stack
    client = gw.client()
    before, anchored = calls(sim, "luma_create"), calls(sim, "luma_create_anchored")
    create = client.videos.with_raw_response.create
    raw = create(model=model, prompt="a tram in the rain", seconds=seconds, size=size)  # type: ignore[arg-type]
    assert raw.headers["x-sora-gateway-adapted"] == adapted and KEY not in raw.text
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    assert (done.model, done.size, done.seconds) == (model, size, seconds)
    body = done.to_dict()
    assert body["provider"] == "luma" and body["upstream_model"] == upstream_model
    assert body["adapted"] == adapted.split("; ")
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(done.id).write_to_file(mp4)
    check_video(mp4, size, float(seconds))
    assert calls(sim, "luma_create") - before == creates
    assert calls(sim, "luma_create_anchored") - anchored == creates - 1  # later parts start from the last frames


def wait_generation(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    for _ in range(1200):
        body: dict[str, Any] = http.get(f"/v1/video/generations/{generation_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{generation_id} never finished")


def test_seed_dialect_20_seconds_at_1080p_with_a_negative_prompt(stack: tuple[Proc, Gateway], tmp_path: Path) -> None:
    """sora-2 is the 720p tier: a 1080p ask is made at 720p and scaled; Luma has no negative prompt field."""
    sim, gw = stack
    before, anchored = calls(sim, "luma_create"), calls(sim, "luma_create_anchored")
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
            "model=sora-2->ray-3.2-720p; resolution=1080p->16:9@720p(1280x720,scaled to 1920x1080); "
            "duration_seconds=20->5+5+5+5(stitched); negative_prompt->prompt"
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
    assert calls(sim, "luma_create") - before == 4 and calls(sim, "luma_create_anchored") - anchored == 3


def test_a_prompt_luma_refuses_fails_once_as_moderation_blocked(stack: tuple[Proc, Gateway]) -> None:
    sim, gw = stack
    client = gw.client()
    before, generations = calls(sim, "luma_create"), sim_stats(sim)["generations"]
    created = client.videos.create(model="sora-2", prompt="a forbidden ritual at night", seconds="4", size="1280x720")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "moderation_blocked"
    assert "Prompt violated content guidelines" in done.error.message and "content_moderated" in done.error.message
    assert calls(sim, "luma_create") == before + 1  # never retried
    assert sim_stats(sim)["generations"] == generations + 1 and KEY not in str(done.to_dict())


def test_a_create_whose_answer_was_lost_is_never_sent_again(stack: tuple[Proc, Gateway]) -> None:
    """Luma has no idempotency key and no listing: a create that may have reached it is not re-sent blind."""
    sim, gw = stack
    client = gw.client()
    before, generations = calls(sim, "luma_create"), sim_stats(sim)["generations"]
    httpx.post(sim.url + "/_sim/faults", json={"faults": "reset=1"})  # every call: the connection drops unanswered
    try:
        created = client.videos.create(model="sora-2", prompt="a quiet harbour", seconds="4", size="1280x720")
        done = client.videos.poll(created.id, poll_interval_ms=100)
    finally:
        httpx.post(sim.url + "/_sim/faults", json={"faults": ""})
    assert done.status == "failed" and done.error is not None and done.error.code == "upstream_outcome_unknown"
    assert calls(sim, "luma_create") == before + 1
    assert sim_stats(sim)["generations"] == generations  # (the simulated drop happened before the generation)
