"""The guide's workflows served by the gateway: batches, stories, prompt enhancement, and two fixes
(a seed create with the default ``output_format`` written out hits the cache; an extension of an odd
length is rounded up and trimmed). Real simulator and gateway processes, the official SDK, PyAV."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.media.probe import probe_duration
from gateway.providers.openai.sim_misc import ENHANCE_DETAILS
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Stack, calls, sim_stats, start_gateway, store_url, write_policies
from tests.procs import Proc, start_simulator, wait_for
from tests.receiver import Receiver
from tests.s3server import S3Server

POLL = {"poll_interval_ms": 100}
PROFILES = ("openai-2025-10", "openai-2026-03", "azure-sora-1")
GLOBEX = "quotas: {concurrent_jobs: 2, max_seconds_per_request: 20}\nenhance_prompt: true\n"
ACME = 'content: {blocked_terms: ["dolly"]}\n'  # the simulator's rewrite always says "dolly"


@pytest.fixture(scope="module")
def quota_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """openai-2025-10 with globex limited (2 running jobs, 20 s a request) and enhancing by default."""
    tmp = tmp_path_factory.mktemp("workflows-quota")
    sim = start_simulator()
    policies = write_policies(tmp / "policies", {"globex": GLOBEX, "acme": ACME})
    gw = start_gateway(sim, tmp, "memory://", policies=policies)
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def wait_video(http: httpx.Client, video_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = http.get(f"/v1/videos/{video_id}").json()
        if body.get("status") in ("completed", "failed") or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.1)


def wait_batch(http: httpx.Client, batch_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = http.get(f"/v1/gateway/batches/{batch_id}").json()
        if body.get("status") != "in_progress" or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.1)


def download(http: httpx.Client, video_id: str, path: Path) -> Path:
    response = http.get(f"/v1/videos/{video_id}/content")
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


def upstream_prompts(sim: Proc) -> list[str]:
    auth = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    response = httpx.get(sim.url + "/v1/videos?limit=100", headers=auth, timeout=10)
    return [str(v.get("prompt")) for v in response.json()["data"]]


# -- batches -------------------------------------------------------------------------------------------------------
def test_batch_of_three_costs_three_generations_and_gives_three_different_videos(
    stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    sim, gw = stacks("openai-2025-10")
    http = gw.http()
    for attempt in range(2):  # the same batch again is generated again: never a cache hit
        before = int(sim_stats(sim)["generations"])  # type: ignore[call-overload]
        created = http.post("/v1/gateway/batches", json={"prompt": "a red fox in snow", "n": 3, "seconds": "4"})
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["object"] == "video.batch" and body["id"].startswith("batch_")
        assert body["status"] == "in_progress" and len(body["videos"]) == 3
        done = wait_batch(http, body["id"])
        assert done["status"] == "completed", done
        assert [v["status"] for v in done["videos"]] == ["completed"] * 3
        assert int(sim_stats(sim)["generations"]) - before == 3  # type: ignore[call-overload]
        digests = {
            hashlib.sha256(download(http, v["id"], tmp_path / f"{attempt}-{v['id']}.mp4").read_bytes()).hexdigest()
            for v in done["videos"]
        }
        assert len(digests) == 3  # visibly different: each variation its own prompt, its own pixels
        assert all(v["batch_id"] == body["id"] for v in done["videos"])
        assert any("Variation 2 of 3" in p for p in upstream_prompts(sim))


def test_batch_with_variations_and_bad_input(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    http = gw.http()
    bad = [
        ({"prompt": "x", "n": 1}, "n"),
        ({"prompt": "x", "n": 17}, "n"),
        ({"prompt": "x", "n": True}, "n"),
        ({"prompt": "x", "variations": []}, "variations"),
        ({"variations": ["a", " "]}, "variations"),
        ({"prompt": "x"}, "n"),
        ({"n": 2}, "prompt"),
        ({"prompt": "x", "n": 2, "seconds": "0"}, "seconds"),
        ({"prompt": "x", "n": 2, "callback_url": "ftp://example.com/x"}, "callback_url"),
        ({"prompt": "x", "n": 2, "colour": "red"}, "colour"),
    ]
    before = calls(sim, "create")
    for body, param in bad:
        response = http.post("/v1/gateway/batches", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.json())
    assert calls(sim, "create") == before  # nothing reached the upstream
    created = http.post(
        "/v1/gateway/batches",
        json={"prompt": "a sailboat on a lake", "variations": ["as a watercolor", "as film noir"], "seconds": "4"},
    ).json()
    done = wait_batch(http, created["id"])
    assert done["status"] == "completed" and len(done["videos"]) == 2
    assert done["videos"][0]["prompt"].endswith("as a watercolor")
    assert gw.http("globex").get(f"/v1/gateway/batches/{created['id']}").status_code == 404  # another team's


def test_batch_beyond_the_quota_is_partial_and_charges_only_what_ran(quota_stack: Stack) -> None:
    sim, gw = quota_stack
    http = gw.http("globex")  # concurrent_jobs: 2
    before = int(sim_stats(sim)["generations"])  # type: ignore[call-overload]
    created = http.post("/v1/gateway/batches", json={"prompt": "a lighthouse", "n": 3, "seconds": "4"})
    assert created.status_code == 200, created.text
    body = created.json()
    third = body["videos"][2]
    assert third["id"] is None and third["status"] == "failed"
    assert third["error"]["code"] == "concurrent_jobs_exceeded"
    done = wait_batch(http, body["id"])
    assert done["status"] == "partial" and done["counts"] == {"completed": 2, "failed": 1}
    assert int(sim_stats(sim)["generations"]) - before == 2


# -- stories -------------------------------------------------------------------------------------------------------
SCENES = [
    {"prompt": "A seed sprouting from soil, close-up timelapse with morning light.", "seconds": 4},
    {"prompt": "The sprout growing into a small plant, developing its first leaves.", "seconds": 8},
    {"prompt": "The flower blooming in vibrant colors, attracting a hummingbird.", "seconds": 4},
]


@pytest.mark.parametrize("profile", PROFILES)
def test_three_scene_story_is_one_16_second_film_on_every_profile(
    profile: str, stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    sim, gw = stacks(profile)
    http = gw.http()
    before = int(sim_stats(sim)["generations"])  # type: ignore[call-overload]
    created = http.post("/v1/gateway/stories", json={"scenes": SCENES, "style_preset": "cinematic"})
    assert created.status_code == 200, created.text
    story = created.json()
    assert story["object"] == "video" and story["seconds"] == "16" and len(story["scenes"]) == 3
    done = gw.client().videos.poll(story["id"], **POLL)  # the official SDK polls it like any video
    assert done.status == "completed", done
    assert done.seconds == "16"
    assert probe_duration(download(http, story["id"], tmp_path / "film.mp4")) == pytest.approx(16.0, abs=0.05)
    assert int(sim_stats(sim)["generations"]) - before == 3  # one generation per scene
    if profile == "openai-2026-03":
        assert calls(sim, "extend") >= 2  # scenes 2 and 3 extend the previous one
    for scene_id, scene in zip(story["scenes"], SCENES, strict=True):
        video = wait_video(http, scene_id)
        assert video["status"] == "completed" and video["story_id"] == story["id"]
        length = probe_duration(download(http, scene_id, tmp_path / f"{scene_id}.mp4"))
        assert length == pytest.approx(scene["seconds"], abs=0.05)
    remix = http.post(f"/v1/videos/{story['scenes'][0]}/remix", json={"prompt": "at night"})
    assert remix.status_code == 400 and remix.json()["error"]["param"] == "video_id"  # no upstream video of its own
    listed = {v.id for v in gw.client().videos.list(limit=100)}
    assert story["id"] in listed
    assert http.delete(f"/v1/videos/{story['id']}").status_code == 200
    assert all(http.get(f"/v1/videos/{s}").status_code == 404 for s in story["scenes"])


def test_story_scenes_of_odd_lengths_are_trimmed_to_the_exact_total(
    stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    _, gw = stacks("openai-2025-10")
    http = gw.http()
    scenes = [{"prompt": "A kite on a beach.", "seconds": 5}, {"prompt": "The kite lands in the sand.", "seconds": 3}]
    story = http.post("/v1/gateway/stories", json={"scenes": scenes}).json()
    assert story["seconds"] == "8"
    done = wait_video(http, story["id"])
    assert done["status"] == "completed", done
    assert probe_duration(download(http, story["id"], tmp_path / "odd.mp4")) == pytest.approx(8.0, abs=0.05)


def test_story_bad_input_names_the_field(quota_stack: Stack) -> None:
    sim, gw = quota_stack
    before = calls(sim, "create")
    cases = [
        ({"scenes": []}, "acme", "scenes"),
        ({}, "acme", "scenes"),
        ({"scenes": [{"prompt": "a", "seconds": 0}]}, "acme", "scenes[0].seconds"),
        ({"scenes": [{"prompt": "", "seconds": 4}]}, "acme", "scenes[0].prompt"),
        ({"scenes": [{"prompt": "a", "seconds": 4, "x": 1}]}, "acme", "scenes[0].x"),
        ({"scenes": [{"prompt": "a", "seconds": 12}, {"prompt": "b", "seconds": 12}]}, "globex", "scenes"),
        ({"scenes": [{"prompt": "a", "seconds": 100}, {"prompt": "b", "seconds": 30}]}, "acme", "scenes"),
        ({"scenes": [{"prompt": "a", "seconds": 4}], "style_preset": "nope"}, "acme", "style_preset"),
    ]
    for body, tenant, param in cases:
        response = gw.http(tenant).post("/v1/gateway/stories", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["param"] == param and set(error) == {"message", "type", "param", "code"}, error
    assert calls(sim, "create") == before


# -- prompt enhancement --------------------------------------------------------------------------------------------
def test_enhanced_prompt_reaches_the_upstream_and_is_cached_by_the_original(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    http = gw.http()
    chats = calls(sim, "chat_completions")
    body = {"prompt": "Dog in a park", "seconds": "4", "enhance_prompt": True}
    first = http.post("/v1/videos", json=body)
    assert first.status_code == 200, first.text
    video = first.json()
    assert "prompt->enhanced" in first.headers["x-sora-gateway-adapted"].split("; ")
    assert video["prompt"] == "Dog in a park"
    assert video["enhanced_prompt"].startswith("Dog in a park. ") and ENHANCE_DETAILS[0] in video["enhanced_prompt"]
    assert any(p.startswith(video["enhanced_prompt"]) for p in upstream_prompts(sim))  # what was generated
    assert wait_video(http, video["id"])["status"] == "completed"
    again = http.post("/v1/videos", json=body)
    assert again.headers["x-sora-gateway-cache"] == "hit"
    assert calls(sim, "chat_completions") - chats == 1  # the rewrite of this prompt is asked once
    plain = http.post("/v1/videos", json={"prompt": "Dog in a park", "seconds": "4"}).json()
    assert "enhanced_prompt" not in plain and "prompt->enhanced" not in plain["adapted"]


def test_enhancement_by_tenant_default_and_fallback_when_the_upstream_has_no_chat(
    quota_stack: Stack, stacks: Callable[[str], Stack]
) -> None:
    _, gw = quota_stack
    video = gw.http("globex").post("/v1/video/generations", json={"prompt": "a harbour at dusk"}).json()
    assert video["enhanced_prompt"].startswith("a harbour at dusk. ")  # globex enhances by default (seed dialect too)
    off = gw.http("globex").post("/v1/videos", json={"prompt": "a harbour at noon", "enhance_prompt": "false"}).json()
    assert "enhanced_prompt" not in off
    _, azure = stacks("azure-sora-1")
    response = azure.http().post("/v1/videos", json={"prompt": "a quiet forest", "enhance_prompt": True})
    assert response.status_code == 200, response.text
    header = response.headers["x-sora-gateway-adapted"]
    assert "prompt->enhanced(failed: unsupported_by_upstream; original used)" in header
    assert "enhanced_prompt" not in response.json()
    bad = gw.http().post("/v1/videos", json={"prompt": "x", "enhance_prompt": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "enhance_prompt"


# -- the two fixes -------------------------------------------------------------------------------------------------
def test_seed_create_with_the_default_output_format_written_out_hits_the_cache(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    http = gw.http()
    body = {"prompt": "a hot air balloon over fields", "duration_seconds": 4, "resolution": "720p"}
    first = http.post("/v1/video/generations", json=body)
    assert first.headers["x-sora-gateway-cache"] == "miss"
    assert wait_video(http, first.json()["id"])["status"] == "completed"
    before = int(sim_stats(sim)["generations"])  # type: ignore[call-overload]
    second = http.post("/v1/video/generations", json={**body, "output_format": "mp4"})
    assert second.headers["x-sora-gateway-cache"] == "hit", second.headers
    assert int(sim_stats(sim)["generations"]) == before


def test_extension_of_ten_seconds_is_rounded_up_and_trimmed(stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    _, gw = stacks("openai-2026-03")
    client = gw.client()
    source = client.videos.create_and_poll(prompt="a kite over a beach", seconds="4", **POLL)
    assert source.status == "completed"
    response = gw.http().post(
        "/v1/videos/extensions", json={"video": {"id": source.id}, "prompt": "the kite climbs", "seconds": "10"}
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["extended_from_video_id"] == source.id
    assert "seconds=10->12(trimmed to 10)" in created["adapted"]
    assert created["seconds"] == "14"
    done = client.videos.poll(created["id"], **POLL)
    assert done.status == "completed" and done.seconds == "14"
    assert probe_duration(download(gw.http(), done.id, tmp_path / "ext.mp4")) == pytest.approx(14.0, abs=0.05)
    too_long = gw.http().post(
        "/v1/videos/extensions", json={"video": {"id": source.id}, "prompt": "more", "seconds": "21"}
    )
    assert too_long.status_code == 400 and "supported extension lengths: 4, 8, 12, 16, 20" in too_long.text


def test_simulator_chat_completions_is_deterministic_and_openai_only(stacks: Callable[[str], Stack]) -> None:
    sim, _ = stacks("openai-2025-10")
    auth = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Basic idea: a cat"}]}
    first = httpx.post(sim.url + "/v1/chat/completions", json=body, headers=auth, timeout=10).json()
    second = httpx.post(sim.url + "/v1/chat/completions", json=body, headers=auth, timeout=10).json()
    text = first["choices"][0]["message"]["content"]
    assert text == second["choices"][0]["message"]["content"] and text.startswith("a cat. ")
    assert first["object"] == "chat.completion" and first["model"] == "gpt-4o-mini"
    bad = httpx.post(sim.url + "/v1/chat/completions", json={"model": "m", "messages": []}, headers=auth, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"
    azure, _ = stacks("azure-sora-1")
    assert httpx.post(azure.url + "/v1/chat/completions", json=body, headers=auth, timeout=10).status_code == 404


def test_batch_and_story_on_a_shared_store_across_two_replicas(tmp_path: Path) -> None:
    """Over Redis: a batch made on one replica is read on the other; a story's scenes complete wherever it ends."""
    sim = start_simulator(profile="openai-2025-10")
    store = store_url("redis", tmp_path)
    policies = write_policies(tmp_path / "policies")
    one = start_gateway(sim, tmp_path, store, policies=policies)
    two = start_gateway(sim, tmp_path, store, policies=policies)  # same data dir: one volume
    try:
        batch = one.http().post("/v1/gateway/batches", json={"prompt": "a kite", "n": 2, "seconds": "4"}).json()
        done = wait_batch(two.http(), batch["id"])
        assert done["status"] == "completed" and len(done["videos"]) == 2
        scenes = [{"prompt": "A kite rises.", "seconds": 4}, {"prompt": "The kite falls.", "seconds": 4}]
        story = two.http().post("/v1/gateway/stories", json={"scenes": scenes}).json()
        assert wait_video(one.http(), story["id"])["status"] == "completed"
        for scene_id in story["scenes"]:
            assert wait_video(one.http(), scene_id)["status"] == "completed"
        assert probe_duration(download(one.http(), story["id"], tmp_path / "film.mp4")) == pytest.approx(8.0, abs=0.05)
    finally:
        one.proc.stop()
        two.proc.stop()
        sim.stop()


def test_enhancement_failures_keep_the_original_prompt_and_say_why(quota_stack: Stack) -> None:
    sim, gw = quota_stack
    http = gw.http()  # acme blocks "dolly", which the simulated rewrite contains
    blocked = http.post("/v1/videos", json={"prompt": "a mill by a river", "seconds": "4", "enhance_prompt": True})
    assert blocked.status_code == 200, blocked.text
    assert "prompt->enhanced(failed: content_policy; original used)" in blocked.headers["x-sora-gateway-adapted"]
    assert "enhanced_prompt" not in blocked.json()
    assert "a mill by a river" in upstream_prompts(sim)  # the original went upstream, not the rewrite
    httpx.post(sim.url + "/_sim/faults", json={"faults": "5xx=1"}, timeout=10)
    try:
        down = http.post("/v1/videos", json={"prompt": "a quiet pond", "seconds": "4", "enhance_prompt": True})
    finally:
        httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10)
    assert down.status_code == 200, down.text  # accepted: the driver re-sends the create
    header = down.headers["x-sora-gateway-adapted"]
    assert "prompt->enhanced(failed: " in header and "; original used)" in header
    done = wait_video(http, down.json()["id"])
    assert done["status"] == "completed" and "enhanced_prompt" not in done


def test_batches_and_stories_honour_idempotency_keys(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    http = gw.http()
    key = {"Idempotency-Key": f"batch-{time.time_ns()}"}
    body = {"prompt": "a heron in reeds", "n": 2, "seconds": "4"}
    first = http.post("/v1/gateway/batches", json=body, headers=key)
    assert first.status_code == 200, first.text
    generations = int(sim_stats(sim)["generations"])  # type: ignore[call-overload]
    again = http.post("/v1/gateway/batches", json=body, headers=key)
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]
    other = http.post("/v1/gateway/batches", json={**body, "n": 3}, headers=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    story_key = {"Idempotency-Key": f"story-{time.time_ns()}"}
    story = {"scenes": [{"prompt": "A heron takes off.", "seconds": 4}]}
    made = http.post("/v1/gateway/stories", json=story, headers=story_key)
    replay = http.post("/v1/gateway/stories", json=story, headers=story_key)
    assert made.status_code == 200 and replay.json()["id"] == made.json()["id"]
    assert replay.json()["scenes"] == made.json()["scenes"]
    assert int(sim_stats(sim)["generations"]) - generations == 1  # the story's one scene; the replays none
    assert wait_batch(http, first.json()["id"])["status"] == "completed"


@pytest.mark.parametrize("presign", [False, True])
def test_story_scenes_are_cut_from_a_film_kept_in_a_bucket(presign: bool, s3_server: S3Server, tmp_path: Path) -> None:
    """With ``--content-store s3://…`` the film is fetched back (or through a presigned URL) to cut the scenes."""
    sim = start_simulator()
    extra = ["--content-store", f"s3://{s3_server.new_bucket()}/kept"]
    config = FAST_CONFIG + ("content_presign_s: 60\n" if presign else "")
    gw = start_gateway(sim, tmp_path, "memory://", *extra, config=config, env=s3_server.env())
    try:
        http = gw.http()
        scenes = [{"prompt": "A boat leaves.", "seconds": 4}, {"prompt": "The boat returns.", "seconds": 8}]
        story = http.post("/v1/gateway/stories", json={"scenes": scenes}).json()
        assert wait_video(http, story["id"])["status"] == "completed"
        for scene_id, seconds in zip(story["scenes"], (4, 8), strict=True):
            assert wait_video(http, scene_id)["status"] == "completed"
            with httpx.Client(base_url=gw.url, headers=http.headers, follow_redirects=True, timeout=30) as client:
                body = client.get(f"/v1/videos/{scene_id}/content")
            assert body.status_code == 200, body.text
            (tmp_path / f"{scene_id}.mp4").write_bytes(body.content)
            assert probe_duration(tmp_path / f"{scene_id}.mp4") == pytest.approx(seconds, abs=0.05)
    finally:
        gw.proc.stop()
        sim.stop()


def test_batch_and_story_callbacks_announce_each_video(simulator: Proc, tmp_path: Path) -> None:
    """A batch's callback_url is each of its videos'; a story's announces the film (the webhook module delivers)."""
    receiver = Receiver().start()
    config = FAST_CONFIG + "callback_allow_nets: 127.0.0.0/8\nwebhook_retry_base_s: 0.3\nwebhook_retry_max_s: 1\n"
    gw = start_gateway(simulator, tmp_path, "memory://", config=config)
    try:
        http = gw.http()
        body = {"prompt": "a crane at dawn", "n": 2, "seconds": "4", "callback_url": receiver.url + "/batch"}
        batch = http.post("/v1/gateway/batches", json=body).json()
        story_body = {"scenes": [{"prompt": "A crane lands.", "seconds": 4}], "callback_url": receiver.url + "/story"}
        story = http.post("/v1/gateway/stories", json=story_body).json()
        wait_for(lambda: len(receiver.acked("/batch")) == 2, "the batch's callbacks", 60)
        wait_for(lambda: len(receiver.acked("/story")) == 1, "the story's callback", 60)
        announced = {d.json["data"]["id"]: d.json for d in receiver.at("/batch")}
        assert set(announced) == {v["id"] for v in batch["videos"]}
        assert all(e["type"] == "video.completed" and e["data"]["batch_id"] == batch["id"] for e in announced.values())
        film = receiver.at("/story")[0].json["data"]
        assert film["id"] == story["id"] and film["scenes"] == story["scenes"] and film["seconds"] == "4"
        refused = http.post("/v1/gateway/batches", json={**body, "callback_url": "http://169.254.169.254/x"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_callback_url"
    finally:
        gw.proc.stop()
        receiver.stop()
