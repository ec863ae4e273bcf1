"""Sora clients on Kling, end to end: the official SDK and the seed dialect through the gateway to the simulated
Kling classic API (real processes), videos measured with PyAV.

The gateway holds the Kling key as ``ACCESS:SECRET`` (``upstreams: [{url, api_key_env, profile: kling}]``) and
signs with JWTs it mints; neither the key nor any token may reach a log line or a response.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.media.probe import probe_duration, probe_video
from tests.conftest import FAST_CONFIG, Gateway, start_gateway, store_url
from tests.procs import Proc, start_simulator, wait_for
from tests.test_provider_kling import png_bytes

ACCESS, SECRET = "ak-e2e-kling-0001", "sk-e2e-kling-SECRET-fedcba9876543210"
KEY = f"{ACCESS}:{SECRET}"
JWT_HEADER_B64 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # base64url of {"alg":"HS256","typ":"JWT"}: any minted token
NEVER_SHOWN = (SECRET, KEY, JWT_HEADER_B64)

Stack = tuple[Proc, Gateway]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sim = start_simulator("--api-key", KEY, profile="kling", time_scale=0.004)
    config = FAST_CONFIG + f"upstreams:\n  - {{url: {sim.url}, api_key_env: KLING_E2E_KEY, profile: kling}}\n"
    gw = start_gateway(sim, tmp_path_factory.mktemp("kling"), "memory://", config=config, env={"KLING_E2E_KEY": KEY})
    yield sim, gw
    gw.proc.stop()
    sim.stop()
    logs = gw.proc.logs()
    assert "kling" in logs and not [s for s in NEVER_SHOWN if s in logs]


def creates(sim: Proc) -> dict[str, int]:
    calls = httpx.get(sim.url + "/_sim/stats").json()["calls"]
    return {"text2video": calls["kling_text2video"], "image2video": calls["kling_image2video"]}


def shown(response: httpx.Response) -> str:
    """What a client saw of an answer (headers and body), checked for the key and tokens."""
    text = "\n".join(f"{k}: {v}" for k, v in response.headers.items()) + "\n" + response.text
    assert not [s for s in NEVER_SHOWN if s in text]
    return text


def measure(data: bytes, path: Path) -> tuple[int, int, float]:
    path.write_bytes(data)
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


def sdk_video(gw: Gateway, tmp: Path, **ask: str) -> tuple[list[str], dict[str, Any], tuple[int, int, float]]:
    client = gw.client()
    raw = client.videos.with_raw_response.create(prompt="a lighthouse at dusk, waves breaking", **ask)  # type: ignore[arg-type]
    adapted = raw.headers["x-sora-gateway-adapted"].split("; ")
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    with gw.http() as http:
        video = http.get(f"/v1/videos/{done.id}")
        content = http.get(f"/v1/videos/{done.id}/content")
    shown(video)
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    return adapted, video.json(), measure(content.content, tmp / f"{done.id}.mp4")


def test_sora2_8s_landscape_is_one_trimmed_kling_clip(stack: Stack, tmp_path: Path) -> None:
    sim, gw = stack
    before = creates(sim)
    adapted, video, (width, height, seconds) = sdk_video(gw, tmp_path, model="sora-2", seconds="8", size="1280x720")
    assert adapted == ["model=sora-2->kling-v2-5-turbo", "size=1280x720->16:9@720p/std", "seconds=8->10(trimmed to 8)"]
    assert (width, height) == (1280, 720) and abs(seconds - 8.0) <= 0.1
    assert video["provider"] == "kling" and video["upstream_model"] == "kling-v2-5-turbo"
    assert video["model"] == "sora-2" and video["size"] == "1280x720" and video["seconds"] == "8"
    assert creates(sim) == {"text2video": before["text2video"] + 1, "image2video": before["image2video"]}


def test_sora2_12s_portrait_is_two_clips_chained_by_the_last_frame(stack: Stack, tmp_path: Path) -> None:
    sim, gw = stack
    before = creates(sim)
    adapted, video, (width, height, seconds) = sdk_video(gw, tmp_path, model="sora-2", seconds="12", size="720x1280")
    assert adapted == [
        "model=sora-2->kling-v2-5-turbo",
        "size=720x1280->9:16@720p/std",
        "seconds=12->10+5(stitched,trimmed to 12)",
    ]
    assert (width, height) == (720, 1280) and abs(seconds - 12.0) <= 0.1
    assert video["provider"] == "kling" and video["upstream_model"] == "kling-v2-5-turbo"
    # the first clip from the text, the second from the first one's last frame (image2video)
    assert creates(sim) == {"text2video": before["text2video"] + 1, "image2video": before["image2video"] + 1}


def test_seed_dialect_20s_1080p_with_a_native_negative_prompt(stack: Stack, tmp_path: Path) -> None:
    sim, gw = stack
    before = creates(sim)
    body = {
        "prompt": "a hot air balloon over vineyards",
        "duration_seconds": 20,
        "resolution": "1080p",
        "negative_prompt": "people, text overlays",
    }
    with gw.http() as http:
        created = http.post("/v1/video/generations", json=body)
        assert created.status_code == 200, shown(created)
        adapted = created.headers["x-sora-gateway-adapted"].split("; ")
        generation_id = created.json()["id"]
        for _ in range(1200):
            done = http.get(f"/v1/video/generations/{generation_id}").json()
            if done["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        assert done["status"] == "completed", done
        (item,) = done["data"]
        assert item["metadata"]["duration_ms"] == 20000 and item["metadata"]["resolution"] == "1920x1080"
        content = http.get(item["url"])
        video = http.get(f"/v1/videos/{generation_id}").json()
    assert adapted == [  # no model named: the profile's default, kling-v2-5-turbo, as it is
        "resolution=1080p->16:9@1080p/pro",
        "duration_seconds=20->10+10(stitched)",
        "negative_prompt->native",
    ]
    assert measure(content.content, tmp_path / "seed.mp4")[:2] == (1920, 1080)
    assert abs(measure(content.content, tmp_path / "seed.mp4")[2] - 20.0) <= 0.1
    assert video["provider"] == "kling" and video["upstream_model"] == "kling-v2-5-turbo"
    assert creates(sim) == {"text2video": before["text2video"] + 1, "image2video": before["image2video"] + 1}


def test_sora2_pro_is_kling_v3_in_one_clip(stack: Stack, tmp_path: Path) -> None:
    sim, gw = stack
    before = creates(sim)
    adapted, video, (width, height, seconds) = sdk_video(
        gw, tmp_path, model="sora-2-pro", seconds="12", size="1792x1024"
    )
    assert adapted == ["model=sora-2-pro->kling-v3", "size=1792x1024->16:9@1080p/pro(1920x1080,scaled to 1792x1024)"]
    assert (width, height) == (1792, 1024) and abs(seconds - 12.0) <= 0.1
    assert video["upstream_model"] == "kling-v3"
    assert creates(sim)["text2video"] == before["text2video"] + 1


def test_a_prompt_kling_refuses_at_once_is_a_400_and_one_create(stack: Stack) -> None:
    """Kling checks a text2video prompt at the create (code 1301): the client is told at once, nothing is kept."""
    sim, gw = stack
    before = creates(sim)
    with gw.http() as http:
        listed_before = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
        refused = http.post("/v1/videos", json={"model": "sora-2", "prompt": "a forbidden ritual", "seconds": "8"})
        listed_after = len(http.get("/v1/videos", params={"limit": 100}).json()["data"])
    shown(refused)
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["code"] == "moderation_blocked"
    assert "Kling 1301" in error["message"] and "Content security policy" in error["message"]
    assert listed_after == listed_before
    assert creates(sim) == {"text2video": before["text2video"] + 1, "image2video": before["image2video"]}


def test_a_task_kling_fails_for_safety_is_one_failed_job_and_one_create(stack: Stack, tmp_path: Path) -> None:
    """From an image (image2video) Kling accepts the task and its risk control fails it: one failed job."""
    sim, gw = stack
    before = creates(sim)
    client = gw.client()
    frame = tmp_path / "first.png"
    frame.write_bytes(png_bytes(1280, 720))
    with frame.open("rb") as image:
        created = client.videos.create(
            model="sora-2", prompt="the forbidden door opens", seconds="8", size="1280x720", input_reference=image
        )
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "moderation_blocked"
    assert done.error.message == "Failure to pass the risk control system"
    time.sleep(0.3)  # a retry, if there were one, would have been sent by now
    assert creates(sim) == {"text2video": before["text2video"], "image2video": before["image2video"] + 1}
    with gw.http() as http:
        shown(http.get(f"/v1/videos/{created.id}"))


def test_a_create_lost_in_a_crash_is_adopted_by_its_external_task_id(tmp_path: Path) -> None:
    """The gateway dies while Kling holds the create's answer: the next one finds the task in Kling's listing by
    the segment's key (``external_task_id``) and adopts it; nothing is generated twice."""
    sim = start_simulator("--api-key", KEY, "--faults", "late=1.0,slow_s=3", profile="kling", time_scale=0.004)
    config = FAST_CONFIG + f"upstreams:\n  - {{url: {sim.url}, api_key_env: KLING_E2E_KEY, profile: kling}}\n"
    store = store_url("sqlite", tmp_path)
    env = {"KLING_E2E_KEY": KEY}
    gw = start_gateway(sim, tmp_path / "gw", store, config=config, env=env)
    gw2 = None
    try:
        outcome: list[object] = []

        def create() -> None:
            try:
                outcome.append(gw.client().videos.create(model="sora-2", prompt="a lighthouse in a storm", seconds="5"))
            except Exception as exc:  # the gateway dies under the request
                outcome.append(exc)

        thread = threading.Thread(target=create, daemon=True)
        thread.start()
        wait_for(lambda: creates(sim)["text2video"] == 1, "the create to reach Kling")
        gw.proc.kill()  # Kling made the task; its answer (the task id) is lost with the gateway
        thread.join(10)
        assert outcome and isinstance(outcome[0], Exception), outcome
        assert httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10).status_code == 200

        gw2 = start_gateway(sim, tmp_path / "gw", store, config=config, env=env, port=gw.proc.port)
        client = gw2.client()
        (job,) = client.videos.list(limit=10).data
        done = client.videos.poll(job.id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        assert len(client.videos.download_content(done.id).content) > 0
        assert httpx.get(sim.url + "/_sim/stats").json()["generations"] == 1
        assert creates(sim)["text2video"] == 1  # found in the listing, never sent again
        assert "segment_adopted" in gw2.proc.logs()
    finally:
        if gw2 is not None:
            gw2.proc.stop()
        gw.proc.kill()
        sim.stop()


def test_a_story_of_4_second_scenes_is_made_at_kling_s_5_seconds_and_trimmed(stack: Stack, tmp_path: Path) -> None:
    """The sora-2 model (kling-v2-5-turbo) makes 5 or 10 s only: scenes of 4 + 4 s are made 5 + 5 and each cut
    back, so the film measures 8 s (Kling refused the 4 s creates when the story planned on every model's lengths)."""
    sim, _ = stack
    gw = stack[1]
    before = creates(sim)["text2video"] + creates(sim)["image2video"]
    scenes = [{"prompt": "A paper boat sets off.", "seconds": 4}, {"prompt": "It reaches the sea.", "seconds": 4}]
    with gw.http() as http:
        created = http.post("/v1/gateway/stories", json={"scenes": scenes, "size": "1280x720"})
        assert created.status_code == 200, created.text
        assert "scenes=4+4->5+5(stitched,trimmed)" in created.headers["x-sora-gateway-adapted"]
        done = gw.client().videos.poll(created.json()["id"], poll_interval_ms=100)
        assert done.status == "completed", done.error
        content = http.get(f"/v1/videos/{done.id}/content")
    _, _, seconds = measure(content.content, tmp_path / "story.mp4")
    assert abs(seconds - 8.0) < 0.25
    assert creates(sim)["text2video"] + creates(sim)["image2video"] - before == 2
