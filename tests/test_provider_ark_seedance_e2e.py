"""The gateway in front of the simulated BytePlus ModelArk (Seedance), driven with the official ``openai`` SDK and
plain HTTP. Real processes (simulator, gateway), real MP4s measured with PyAV: code written for Sora gets exactly
the length and size it asked, made by Seedance, told what was changed in ``x-sora-gateway-adapted``.
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

KEY = "ark-e2e-7c1d9a2b-SECRET-4e5f-8a9b-0c1d2e3f4a5b"
FAST = "dreamina-seedance-2-0-fast-260128"
# Ark's tasks carry a 5 s poll hint: poll_max_s caps it for a quick test
CONFIG = FAST_CONFIG + "poll_max_s: 0.2\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator("--api-key", KEY, profile="ark-seedance", time_scale=0.004)
    gw = start_gateway(
        sim,
        tmp_path_factory.mktemp("ark"),
        "memory://",
        "--upstream",
        sim.url + "/api/v3",  # as https://ark.ap-southeast.bytepluses.com/api/v3
        "--upstream-profile",
        "ark-seedance",
        config=CONFIG,
        env={"SORA_GATEWAY_UPSTREAM_API_KEY": KEY},
    )
    yield sim, gw
    gw.proc.stop()
    sim.stop()
    logs = gw.proc.logs()
    assert "ark" in logs and KEY not in logs and KEY[4:30] not in logs


def check_video(path: Path, size: str, seconds: float) -> None:
    info = probe_video(path)
    width, height, duration = int(info["width"]), int(info["height"]), probe_duration(path)
    assert f"{width}x{height}" == size and abs(duration - seconds) <= 0.1, (width, height, duration)


@pytest.mark.parametrize(
    ("seconds", "size", "adapted"),
    [
        ("8", "1280x720", f"model=sora-2->{FAST}; size=1280x720->16:9@720p"),
        ("12", "720x1280", f"model=sora-2->{FAST}; size=720x1280->9:16@720p"),  # 12 s in one Seedance create
    ],
)
def test_sora_requests_get_exactly_what_they_asked(
    stack: tuple[Proc, Gateway], tmp_path: Path, seconds: str, size: str, adapted: str
) -> None:
    sim, gw = stack
    client = gw.client()
    before = calls(sim, "ark_create")
    create = client.videos.with_raw_response.create
    raw = create(model="sora-2", prompt="a tram in the rain", seconds=seconds, size=size)  # type: ignore[arg-type]
    assert raw.headers["x-sora-gateway-adapted"] == adapted and KEY not in raw.text
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    assert (done.model, done.size, done.seconds) == ("sora-2", size, seconds)
    body = done.to_dict()
    assert body["provider"] == "ark-seedance" and body["upstream_model"] == FAST
    assert body["adapted"] == adapted.split("; ")
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(done.id).write_to_file(mp4)
    check_video(mp4, size, float(seconds))
    assert calls(sim, "ark_create") == before + 1


def wait_generation(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    for _ in range(1200):
        body: dict[str, Any] = http.get(f"/v1/video/generations/{generation_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{generation_id} never finished")


def test_seed_dialect_20_seconds_at_1080p_with_a_negative_prompt(stack: tuple[Proc, Gateway], tmp_path: Path) -> None:
    """Seedance 2.0 Fast makes 720p: the gateway scales to 1080p; 20 s is two chained 10 s creates; Seedance has
    no negative prompt field, so it becomes an "Avoid:" clause."""
    sim, gw = stack
    before = calls(sim, "ark_create")
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
            f"model=sora-2->{FAST}; resolution=1080p->16:9@720p(1280x720,scaled to 1920x1080); "
            "duration_seconds=20->10+10(stitched); negative_prompt->prompt"
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
    assert calls(sim, "ark_create") == before + 2  # the second part started from the first one's last frame
    listed = httpx.get(sim.url + "/api/v3/contents/generations/tasks", params={"page_size": "2"},
                       headers={"Authorization": f"Bearer {KEY}"}).json()  # fmt: skip
    assert [(t["ratio"], t["resolution"], t["duration"]) for t in listed["items"]] == [("16:9", "720p", 10)] * 2


def test_a_prompt_ark_refuses_at_create_is_a_400_and_one_create(stack: tuple[Proc, Gateway]) -> None:
    """Ark checks the input text at the create (``InputTextSensitiveContentDetected``): the client is told at
    once, nothing is kept or charged."""
    sim, gw = stack
    before, generations = calls(sim, "ark_create"), sim_stats(sim)["generations"]
    with gw.http() as http:
        listed_before = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
        refused = http.post("/v1/videos", json={"model": "sora-2", "prompt": "a forbidden ritual", "seconds": "8"})
        listed_after = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["code"] == "moderation_blocked" and KEY not in refused.text
    assert "InputTextSensitiveContentDetected" in error["message"] and "sensitive" in error["message"]
    assert listed_after == listed_before
    assert calls(sim, "ark_create") == before + 1 and sim_stats(sim)["generations"] == generations


def test_a_task_ark_fails_for_safety_is_one_failed_job_and_one_create(stack: tuple[Proc, Gateway]) -> None:
    """Ark's output moderation fails the task (``OutputVideoSensitiveContentDetected``): one failed job, never
    retried."""
    sim, gw = stack
    client = gw.client()
    before, generations = calls(sim, "ark_create"), sim_stats(sim)["generations"]
    created = client.videos.create(model="sora-2", prompt="a gore fest at night", seconds="4", size="1280x720")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "moderation_blocked" and "OutputVideoSensitiveContentDetected" in done.error.message
    assert "sensitive" in done.error.message and KEY not in str(done.to_dict())
    time.sleep(0.3)  # a retry, if there were one, would have been sent by now
    assert calls(sim, "ark_create") == before + 1 and sim_stats(sim)["generations"] == generations + 1  # type: ignore[operator]


def test_a_create_whose_answer_was_lost_is_never_sent_again(stack: tuple[Proc, Gateway]) -> None:
    """Ark keeps no client token and its tasks carry no prompt: a create that may have reached it is not re-sent."""
    sim, gw = stack
    client = gw.client()
    before = calls(sim, "ark_create")
    httpx.post(sim.url + "/_sim/faults", json={"faults": "reset=1"})  # every call: the connection drops unanswered
    try:
        created = client.videos.create(model="sora-2", prompt="a quiet harbour", seconds="4", size="1280x720")
        done = client.videos.poll(created.id, poll_interval_ms=100)
    finally:
        httpx.post(sim.url + "/_sim/faults", json={"faults": ""})
    assert done.status == "failed" and done.error is not None and done.error.code == "upstream_outcome_unknown"
    assert calls(sim, "ark_create") == before + 1
