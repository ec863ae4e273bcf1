"""Sora clients on MiniMax Hailuo, end to end: the official SDK and the seed dialect through the gateway to the
simulated MiniMax API (real processes), videos measured with PyAV.

The gateway is configured as an operator would (``upstreams: [{url, api_key_env, profile: minimax-hailuo}]``);
the MiniMax key may reach no log line and no response.
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

KEY = "sk-api-e2e-minimax-" + "9fQ2x7" * 4
Stack = tuple[Proc, Gateway]
# MiniMax asks for a query every 10 s: poll_max_s caps that hint for a quick test
CONFIG = FAST_CONFIG + "poll_max_s: 0.2\n"


def upstream_line(sim: Proc, env: str) -> str:
    return f"  - {{url: {sim.url}, api_key_env: {env}, profile: minimax-hailuo}}\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sim = start_simulator("--api-key", KEY, profile="minimax-hailuo", time_scale=0.004)
    config = CONFIG + "upstreams:\n" + upstream_line(sim, "MINIMAX_E2E_KEY")
    gw = start_gateway(sim, tmp_path_factory.mktemp("mm"), "memory://", config=config, env={"MINIMAX_E2E_KEY": KEY})
    yield sim, gw
    gw.proc.stop()
    sim.stop()
    logs = gw.proc.logs()
    assert "minimax-hailuo" in logs and KEY not in logs and KEY[7:24] not in logs


def creates(sim: Proc) -> tuple[int, int]:
    """(every create, the image-to-video ones among them)."""
    return calls(sim, "mm_create"), calls(sim, "mm_create_i2v")


def shown(response: httpx.Response) -> str:
    """What a client saw of an answer (headers and body), checked for the key."""
    text = "\n".join(f"{k}: {v}" for k, v in response.headers.items()) + "\n" + response.text
    assert KEY not in text
    return text


def measure(data: bytes, path: Path) -> tuple[int, int, float]:
    path.write_bytes(data)
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


TIER = "model=sora-2->MiniMax-H3-768P"


@pytest.mark.parametrize(
    ("model", "seconds", "size", "adapted", "made"),
    [
        # MiniMax-H3 (v2): any length from 5 to 15 s in one create, portrait and landscape
        ("sora-2", "8", "1280x720", [TIER, "size=1280x720->16:9@768P(1344x768,scaled to 1280x720)"], (1, 0)),
        ("sora-2", "12", "720x1280", [TIER, "size=720x1280->9:16@768P(768x1344,scaled to 720x1280)"], (1, 0)),
        ("sora-2-pro", "4", "1792x1024", ["model=sora-2-pro->MiniMax-H3-2K",
                                          "size=1792x1024->16:9@2K(2560x1440,scaled to 1792x1024)",
                                          "seconds=4->5(trimmed to 4)"], (1, 0)),
        # a v1 model by name: no portrait from text (made at 16:9 and scaled, and said so); 6 s parts, the second
        # from the first's last frame on 2.3-Fast
        ("MiniMax-Hailuo-2.3-768P", "12", "720x1280", ["size=720x1280->16:9@768P(1366x768,scaled to 720x1280)",
                                                       "seconds=12->6+6(stitched)"], (2, 1)),
    ],
)  # fmt: skip
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
    assert body["provider"] == "minimax-hailuo" and body["adapted"] == adapted
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    width, height, length = measure(content.content, tmp_path / "v.mp4")
    assert f"{width}x{height}" == size and abs(length - float(seconds)) <= 0.1, (width, height, length)
    after = creates(sim)
    assert (after[0] - before[0], after[1] - before[1]) == made
    assert calls(sim, "mm_cdn_with_auth") == 0


def wait_generation(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    for _ in range(1200):
        body: dict[str, Any] = http.get(f"/v1/video/generations/{generation_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{generation_id} never finished")


def test_seed_dialect_20_seconds_at_1080p_with_a_negative_prompt(stack: Stack, tmp_path: Path) -> None:
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
        adapted = created.headers["x-sora-gateway-adapted"]
        assert adapted.startswith(f"{TIER}; resolution=1080p->16:9@768P(1344x768,scaled to 1920x1080); "
                                  "duration_seconds=20->10+10(stitched); negative_prompt->prompt")  # fmt: skip
        done = wait_generation(http, created.json()["id"])
        assert done["status"] == "completed", done
        (item,) = done["data"]
        assert item["metadata"]["resolution"] == "1920x1080" and item["metadata"]["duration_ms"] == 20000
        video = http.get(item["url"])
    assert video.status_code == 200 and KEY.encode() not in video.content
    width, height, length = measure(video.content, tmp_path / "seed.mp4")
    assert (width, height) == (1920, 1080) and abs(length - 20.0) <= 0.1
    after = creates(sim)
    # MiniMax has no negative prompt (a prompt clause instead); the second part starts from the first's last frame
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


def test_a_prompt_minimax_refuses_at_create_is_a_400_and_one_create(stack: Stack) -> None:
    """MiniMax's input check (1026) refuses the create itself: the client is told at once, no job is kept."""
    sim, gw = stack
    before, made = creates(sim), sim_stats(sim)["generations"]
    with gw.http() as http:
        listed_before = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
        refused = http.post("/v1/videos", json={"model": "sora-2", "prompt": "a forbidden ritual", "seconds": "8"})
        listed_after = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
    shown(refused)
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["code"] == "moderation_blocked"
    assert error["message"].startswith("MiniMax 1026: ")
    assert listed_after == listed_before
    assert creates(sim)[0] == before[0] + 1 and sim_stats(sim)["generations"] == made


def test_a_task_minimax_fails_for_safety_is_one_failed_job_and_one_create(stack: Stack) -> None:
    sim, gw = stack
    client = gw.client()
    before, made = creates(sim), sim_stats(sim)["generations"]
    created = client.videos.create(model="sora-2", prompt="a gore fest at night", seconds="8", size="1280x720")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert (done.error.code, done.error.message) == (
        "moderation_blocked",
        "MiniMax 1027: output video contains sensitive content",
    )
    assert creates(sim)[0] == before[0] + 1  # never retried (a failed job is final: no later create either)
    assert sim_stats(sim)["generations"] == made + 1 and KEY not in str(done.to_dict())
    with gw.http() as http:
        shown(http.get(f"/v1/videos/{created.id}"))


def test_a_create_whose_answer_was_lost_is_never_sent_again(stack: Stack) -> None:
    """No client token, no listing: a create that may have reached MiniMax is not re-sent blind."""
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
    assert sim_stats(sim)["generations"] == generations


def test_a_rate_limited_minimax_moves_the_job_to_the_next_upstream(tmp_path: Path) -> None:
    """1002 (HTTP 200 with base_resp) is a 429 that made nothing: the next upstream makes the video."""
    busy = start_simulator("--api-key", KEY, "--faults", "429=1.0", profile="minimax-hailuo", time_scale=0.004)
    spare = start_simulator("--api-key", KEY, profile="minimax-hailuo", time_scale=0.004)
    config = CONFIG + "upstreams:\n" + upstream_line(busy, "MM_BUSY_KEY") + upstream_line(spare, "MM_SPARE_KEY")
    gw = start_gateway(busy, tmp_path / "gw", "memory://", config=config, env={"MM_BUSY_KEY": KEY, "MM_SPARE_KEY": KEY})
    try:
        client = gw.client()
        created = client.videos.create(model="sora-2", prompt="a red kite over the dunes", seconds="8")
        done = client.videos.poll(created.id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        assert creates(busy)[0] >= 1 and sim_stats(busy)["generations"] == 0
        assert creates(spare)[0] == 1 and sim_stats(spare)["generations"] == 1
    finally:
        gw.proc.stop()
        busy.stop()
        spare.stop()
