"""Sora clients on Alibaba's Wan models, end to end: the official SDK and the seed dialect through the gateway to
the simulated DashScope API (real processes), videos measured with PyAV.

The gateway is configured as an operator would (``upstreams: [{url, api_key_env, profile: dashscope-wan}]``);
the DashScope key may reach no log line and no response.
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

KEY = "sk-e2e-dashscope-" + "5eC2e7" * 4
Stack = tuple[Proc, Gateway]
# DashScope asks for a query every 5 s at most: poll_max_s caps that hint for a quick test
CONFIG = FAST_CONFIG + "poll_max_s: 0.2\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sim = start_simulator("--api-key", KEY, profile="dashscope-wan", time_scale=0.004)
    config = CONFIG + f"upstreams:\n  - {{url: {sim.url}, api_key_env: WAN_E2E_KEY, profile: dashscope-wan}}\n"
    gw = start_gateway(sim, tmp_path_factory.mktemp("wan"), "memory://", config=config, env={"WAN_E2E_KEY": KEY})
    yield sim, gw
    gw.proc.stop()
    sim.stop()
    logs = gw.proc.logs()
    assert "dashscope-wan" in logs and KEY not in logs and KEY[3:20] not in logs


def creates(sim: Proc) -> tuple[int, int]:
    """(every create, the image-to-video ones among them)."""
    return calls(sim, "wan_create"), calls(sim, "wan_create_i2v")


def shown(response: httpx.Response) -> str:
    """What a client saw of an answer (headers and body), checked for the key."""
    text = "\n".join(f"{k}: {v}" for k, v in response.headers.items()) + "\n" + response.text
    assert KEY not in text
    return text


def measure(data: bytes, path: Path) -> tuple[int, int, float]:
    path.write_bytes(data)
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


@pytest.mark.parametrize(
    ("model", "seconds", "size", "adapted", "made"),
    [
        ("sora-2", "8", "1280x720", ["model=sora-2->wan2.7-t2v", "size=1280x720->16:9@720P"], (1, 0)),
        ("sora-2", "12", "720x1280", ["model=sora-2->wan2.7-t2v", "size=720x1280->9:16@720P"], (1, 0)),
        (
            "sora-2-pro",
            "4",
            "1792x1024",
            ["model=sora-2-pro->wan2.7-t2v", "size=1792x1024->16:9@1080P(1920x1080,scaled to 1792x1024)"],
            (1, 0),
        ),
    ],
)
def test_sora_requests_get_exactly_what_they_asked(
    stack: Stack, tmp_path: Path, model: str, seconds: str, size: str, adapted: list[str], made: tuple[int, int]
) -> None:
    sim, gw = stack
    client = gw.client()
    before = creates(sim)
    raw = client.videos.with_raw_response.create(model=model, prompt="a tram in the rain", seconds=seconds, size=size)  # type: ignore[arg-type]
    assert raw.headers["x-sora-gateway-adapted"].split("; ") == adapted
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    assert (done.model, done.size, done.seconds) == (model, size, seconds)
    with gw.http() as http:
        video = http.get(f"/v1/videos/{done.id}")
        content = http.get(f"/v1/videos/{done.id}/content")
    shown(video)
    body = video.json()
    assert body["provider"] == "dashscope-wan" and body["upstream_model"] == "wan2.7-t2v"
    assert body["adapted"] == adapted
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    width, height, length = measure(content.content, tmp_path / "v.mp4")
    assert f"{width}x{height}" == size and abs(length - float(seconds)) <= 0.1, (width, height, length)
    after = creates(sim)
    assert (after[0] - before[0], after[1] - before[1]) == made


def wait_generation(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    for _ in range(1200):
        body: dict[str, Any] = http.get(f"/v1/video/generations/{generation_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{generation_id} never finished")


def test_seed_dialect_20_seconds_at_1080p_with_a_native_negative_prompt(stack: Stack, tmp_path: Path) -> None:
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
            "model=sora-2->wan2.7-t2v; resolution=1080p->16:9@1080P; duration_seconds=20->10+10(stitched); "
            "negative_prompt->native"
        )
        done = wait_generation(http, created.json()["id"])
        assert done["status"] == "completed", done
        (item,) = done["data"]
        assert item["metadata"]["resolution"] == "1920x1080" and item["metadata"]["duration_ms"] == 20000
        video = http.get(item["url"])
    assert video.status_code == 200 and KEY.encode() not in video.content
    width, height, length = measure(video.content, tmp_path / "seed.mp4")
    assert (width, height) == (1920, 1080) and abs(length - 20.0) <= 0.1
    after = creates(sim)
    # the second part starts from the first one's last frame: wan2.7-i2v, the image model of wan2.7-t2v
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


def test_a_prompt_dashscope_refuses_at_create_is_a_400_and_one_create(stack: Stack) -> None:
    """DashScope's input inspection refuses the create itself: the client is told at once, no job is kept."""
    sim, gw = stack
    before, made = creates(sim), sim_stats(sim)["generations"]
    with gw.http() as http:
        listed_before = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
        refused = http.post("/v1/videos", json={"model": "sora-2", "prompt": "a forbidden ritual", "seconds": "8"})
        listed_after = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
    shown(refused)
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["code"] == "moderation_blocked"
    assert error["message"] == "DashScope DataInspectionFailed: Input data may contain inappropriate content."
    assert listed_after == listed_before
    assert creates(sim)[0] == before[0] + 1 and sim_stats(sim)["generations"] == made


def test_a_task_dashscope_fails_for_safety_is_one_failed_job_and_one_create(stack: Stack) -> None:
    sim, gw = stack
    client = gw.client()
    before, made = creates(sim), sim_stats(sim)["generations"]
    created = client.videos.create(model="sora-2", prompt="a gore fest at night", seconds="8", size="1280x720")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "moderation_blocked"
    assert done.error.message == "DashScope DataInspectionFailed: Output data may contain inappropriate content."
    time.sleep(0.3)  # a retry, if there were one, would have been sent by now
    assert creates(sim)[0] == before[0] + 1  # never retried
    assert sim_stats(sim)["generations"] == made + 1 and KEY not in str(done.to_dict())
    with gw.http() as http:
        shown(http.get(f"/v1/videos/{created.id}"))


def test_a_create_whose_answer_was_lost_is_never_sent_again(stack: Stack) -> None:
    """No client token, no usable listing: a create that may have reached DashScope is not re-sent blind."""
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
    assert creates(sim)[0] == before[0] + 1
    assert sim_stats(sim)["generations"] == generations  # (the simulated drop happened before the task was made)
