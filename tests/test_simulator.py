"""End-to-end tests of the upstream simulator, run as real processes, spoken to with httpx and the SDK."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from gateway.media import Segment, probe_video, render_video
from tests.procs import Proc, start_simulator

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TS = 0.003
PACED_TS = 0.04  # sora-2-pro, 12 s: queued 0.4 s, in progress 7.2 s
AZ = "/openai/v1/video/generations"
AZQ = {"api-version": "preview"}
VIDEO_KEYS = {"id", "object", "model", "status", "progress", "created_at", "completed_at", "expires_at", "prompt",
              "size", "seconds", "remixed_from_video_id", "error"}  # fmt: skip


def _sim(*args: str, profile: str = "openai-2025-10", ts: float = TS, **env: str) -> Iterator[Proc]:
    proc = start_simulator(*args, profile=profile, time_scale=ts, **env)
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    yield from _sim("--seed", "7")


@pytest.fixture(scope="module")
def paced_sim() -> Iterator[Proc]:
    """Slow enough that a loaded machine's stalls (seconds) are shorter than a pro job's in-progress phase."""
    yield from _sim(ts=PACED_TS)


@pytest.fixture(scope="module")
def paced_sim26() -> Iterator[Proc]:
    """openai-2026-03, slow enough that a 4 s source is still running (3 s) when the test asks to extend it."""
    yield from _sim(profile="openai-2026-03", ts=0.05)


@pytest.fixture(scope="module")
def sim26() -> Iterator[Proc]:
    yield from _sim(profile="openai-2026-03")


@pytest.fixture(scope="module")
def azure() -> Iterator[Proc]:
    yield from _sim(profile="azure-sora-1")


def sdk(proc: Proc, key: str = "sk-test") -> OpenAI:
    return OpenAI(base_url=proc.url + "/v1", api_key=key, max_retries=0)


def http(proc: Proc, key: str = "sk-test") -> httpx.Client:
    return httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def stats(proc: Proc) -> dict[str, Any]:
    return httpx.get(proc.url + "/_sim/stats").json()


def error_of(response: httpx.Response, status: int, code: str | None, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"]) == (code, param)
    return error


def wait(client: httpx.Client, path: str, done: set[str], timeout: float = 10, **params: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(path, params=params).json()
        if body["status"] in done:
            return body
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {done}")


def mp4_info(data: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "out.bin"
    path.write_bytes(data)
    return probe_video(path)


def test_sdk_create_multipart_poll_and_download(sim: Proc, tmp_path: Path) -> None:
    client = sdk(sim)
    raw = client.videos.with_raw_response.create(prompt="a red fox", seconds="8", size="1280x720")
    assert raw.headers["openai-poll-after-ms"] == "50"
    video = raw.parse()
    assert re.fullmatch(r"video_[0-9a-f]{48}", video.id)
    assert set(video.model_dump()) >= VIDEO_KEYS
    assert (video.status, video.progress, video.model, video.seconds, video.size) == (
        "queued", 0, "sora-2", "8", "1280x720"
    )  # fmt: skip
    assert video.completed_at is None and video.expires_at is None and video.error is None
    done = client.videos.poll(video.id)
    assert (done.status, done.progress) == ("completed", 100)
    assert done.expires_at is not None and done.completed_at is not None
    assert abs(done.expires_at - done.completed_at - 3600 * TS) <= 1
    content = client.videos.download_content(video.id)
    assert content.response.headers["content-type"] == "video/mp4"
    data = content.read()
    assert int(content.response.headers["content-length"]) == len(data)
    info = mp4_info(data, tmp_path)
    assert (info["codec"], info["width"], info["height"], info["frames"]) == ("h264", 128, 72, 80)
    assert info["duration"] == pytest.approx(8.0, abs=0.1)
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.response.headers["content-type"] == "image/webp" and thumb.read()[8:12] == b"WEBP"
    sheet = client.videos.download_content(video.id, variant="spritesheet")
    assert sheet.response.headers["content-type"] == "image/jpeg" and sheet.read()[:2] == b"\xff\xd8"


def test_status_moves_forward_and_durations_per_model(paced_sim: Proc, tmp_path: Path) -> None:
    sim = paced_sim
    client = sdk(sim)
    video = client.videos.create(prompt="slow pro", model="sora-2-pro-2025-10-06", seconds="12", size="1792x1024")
    seen: list[tuple[str, int]] = []
    with http(sim) as c:
        while not seen or seen[-1][0] not in ("completed", "failed"):
            body = c.get(f"/v1/videos/{video.id}").json()
            seen.append((body["status"], body["progress"]))
            time.sleep(0.01)
        order = ["queued", "in_progress", "completed"]
        assert [order.index(s) for s, _ in seen] == sorted(order.index(s) for s, _ in seen)
        assert "in_progress" in {s for s, _ in seen}
        assert [p for _, p in seen] == sorted(p for _, p in seen)
        data = c.get(f"/v1/videos/{video.id}/content").content
    info = mp4_info(data, tmp_path)
    assert (info["width"], info["height"], info["duration"]) == (128, 74, pytest.approx(12.0, abs=0.1))


def test_content_differs_by_prompt_and_json_create(sim: Proc) -> None:
    with http(sim) as c:
        ids = [c.post("/v1/videos", json={"prompt": p}).json()["id"] for p in ("sunrise", "moonrise")]
        blobs = [(wait(c, f"/v1/videos/{i}", {"completed"}), c.get(f"/v1/videos/{i}/content").content)[1] for i in ids]
    assert blobs[0] != blobs[1]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"prompt": "x", "seconds": "5"}, "seconds", "invalid_value"),
        ({"prompt": "x", "seconds": 4}, "seconds", "invalid_value"),
        ({"prompt": "x", "size": "1792x1024"}, "size", "invalid_value"),
        ({"prompt": "x", "model": "sora-3"}, "model", "invalid_value"),
        ({"prompt": "x", "model": "sora-2-2025-12-08"}, "model", "invalid_value"),
        ({"seconds": "4"}, "prompt", "missing_required_parameter"),
        ({"prompt": ""}, "prompt", "invalid_value"),
        ({"prompt": "x" * 32001}, "prompt", "invalid_value"),
        ({"prompt": "x", "style_preset": "anime"}, "style_preset", "unknown_parameter"),
        ({"prompt": "x", "input_reference": {"image_url": "u", "file_id": "f"}}, "input_reference", "invalid_value"),
        ({"prompt": "some GORE here"}, None, "moderation_blocked"),
    ],
)
def test_create_validation(sim: Proc, body: dict[str, Any], param: str | None, code: str) -> None:
    before = stats(sim)["generations"]
    with http(sim) as c:
        error = error_of(c.post("/v1/videos", json=body), 400, code, param)
    assert error["type"] == "invalid_request_error"
    if code == "moderation_blocked":
        assert error["message"] == "Your request was blocked by our moderation system."
    assert stats(sim)["generations"] == before


def test_input_reference_forms_and_malformed_bodies(sim: Proc) -> None:
    client = sdk(sim)
    video = client.videos.create(prompt="ref", input_reference=("ref.png", b"\x89PNG fake", "image/png"))
    assert video.status == "queued"
    with http(sim) as c:
        form = {"prompt": "ref", "input_reference[image_url]": "https://example.com/a.png", "size": "1280x720"}
        assert c.post("/v1/videos", data=form, files={"x": ("", b"")}).status_code == 400  # unknown file part
        assert c.post("/v1/videos", files={k: (None, v) for k, v in form.items()}).json()["size"] == "1280x720"
        assert c.post("/v1/videos", json={"prompt": "r", "input_reference": {"file_id": "file-1"}}).status_code == 200
        bad = c.post("/v1/videos", content=b"{not json", headers={"content-type": "application/json"})
        error_of(bad, 400, "invalid_json")
        broken = c.post("/v1/videos", content=b"--zz\r\nbroken", headers={"content-type": "multipart/form-data"})
        assert broken.status_code == 400 and "error" in broken.json()


def test_idempotency_key(sim: Proc) -> None:
    before = stats(sim)["generations"]
    with http(sim) as c, http(sim, "sk-other") as other:
        first = c.post("/v1/videos", json={"prompt": "once"}, headers={"Idempotency-Key": "k1"}).json()
        again = c.post("/v1/videos", json={"prompt": "once"}, headers={"Idempotency-Key": "k1"}).json()
        theirs = other.post("/v1/videos", json={"prompt": "once"}, headers={"Idempotency-Key": "k1"}).json()
        reused = c.post(f"/v1/videos/{first['id']}/remix", json={"prompt": "x"}, headers={"Idempotency-Key": "k1"})
    assert first["id"] == again["id"] != theirs["id"]
    assert stats(sim)["generations"] == before + 2
    error_of(reused, 409, "idempotency_key_reused")


def test_list_pagination_scoping_retrieve_delete(sim: Proc) -> None:
    key = "sk-list"
    client = sdk(sim, key)
    ids = [client.videos.create(prompt=f"clip {i}").id for i in range(5)]
    assert [v.id for v in client.videos.list(limit=2)] == ids[::-1]
    assert [v.id for v in client.videos.list(order="asc", limit=100)] == ids
    page = client.videos.list(limit=2, order="asc", after=ids[1])
    assert ([v.id for v in page.data], page.has_more) == (ids[2:4], True)
    assert [v.id for v in sdk(sim, "sk-else").videos.list()] == []
    with http(sim, key) as c:
        body = c.get("/v1/videos", params={"limit": 0}).json()
        assert body == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": True}
        error_of(c.get("/v1/videos", params={"limit": 101}), 400, "invalid_value", "limit")
        error_of(c.get("/v1/videos", params={"order": "up"}), 400, "invalid_value", "order")
        error_of(c.get("/v1/videos/video_nope"), 404, "not_found")
    with http(sim, "sk-else") as stranger:
        error_of(stranger.get(f"/v1/videos/{ids[0]}"), 404, "not_found")
    deleted = client.videos.delete(ids[0])
    assert (deleted.id, deleted.object, deleted.deleted) == (ids[0], "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(ids[0])
    assert ids[0] not in [v.id for v in client.videos.list(limit=100)]


def test_content_not_ready_expired_and_ranges(paced_sim: Proc) -> None:
    sim = paced_sim  # its job must still be running at the first look
    with http(sim) as c:
        vid = c.post("/v1/videos", json={"prompt": "ranges", "seconds": "4"}).json()["id"]
        error_of(c.get(f"/v1/videos/{vid}/content"), 400, "video_not_ready")
        wait(c, f"/v1/videos/{vid}", {"completed"})
        error_of(c.get(f"/v1/videos/{vid}/content", params={"variant": "gif"}), 400, "invalid_value", "variant")
        full = c.get(f"/v1/videos/{vid}/content")
        size = len(full.content)
        assert full.headers["accept-ranges"] == "bytes"
        part = c.get(f"/v1/videos/{vid}/content", headers={"Range": "bytes=0-99"})
        assert (part.status_code, part.content) == (206, full.content[:100])
        assert part.headers["content-range"] == f"bytes 0-99/{size}" and part.headers["content-length"] == "100"
        tail = c.get(f"/v1/videos/{vid}/content", headers={"Range": "bytes=-50"})
        assert (tail.status_code, tail.content) == (206, full.content[-50:])
        rest = c.get(f"/v1/videos/{vid}/content", headers={"Range": "bytes=100-"})
        assert rest.content == full.content[100:]
        bad = c.get(f"/v1/videos/{vid}/content", headers={"Range": f"bytes={size}-"})
        error_of(bad, 416, "range_not_satisfiable", "Range")
        assert bad.headers["content-range"] == f"bytes */{size}"
        assert httpx.post(f"{c.base_url}/_sim/expire/{vid}").status_code == 200
        error_of(c.get(f"/v1/videos/{vid}/content"), 404, "video_expired")
        assert c.get(f"/v1/videos/{vid}").json()["expires_at"] <= time.time() + 1


def test_remix(paced_sim: Proc, tmp_path: Path) -> None:
    sim = paced_sim  # its job must still be running at the first look
    client = sdk(sim)
    source = client.videos.create(prompt="base", model="sora-2-pro", seconds="4", size="1024x1792")
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(source.id, prompt="too early")
    client.videos.poll(source.id)
    remix = client.videos.remix(source.id, prompt="remixed")
    assert (remix.remixed_from_video_id, remix.model, remix.size, remix.seconds) == (
        source.id, "sora-2-pro", "1024x1792", "4"
    )  # fmt: skip
    client.videos.poll(remix.id)
    info = mp4_info(client.videos.download_content(remix.id).read(), tmp_path)
    assert info["duration"] == pytest.approx(4.0, abs=0.1)


def test_models_moderations_and_missing_paths(sim: Proc) -> None:
    client = sdk(sim)
    assert {m.id for m in client.models.list()} == {
        "sora-2",
        "sora-2-pro",
        "sora-2-2025-10-06",
        "sora-2-pro-2025-10-06",
    }
    result = client.moderations.create(input=["a calm lake", "forbidden things"])
    assert [r.flagged for r in result.results] == [False, True]
    assert result.model == "omni-moderation-latest"
    with http(sim) as c:
        for path in ("/v1/videos/extensions", "/v1/videos/edits", "/v1/videos/characters"):
            error_of(c.post(path, json={}), 404, None)
        error_of(c.get("/v1/videos/characters/char_1"), 404, None)
        error_of(c.post(f"{AZ}/jobs", params=AZQ, json={}), 404, None)
        error_of(c.get("/nowhere"), 404, None)
        wrong = c.put("/v1/videos")
        error_of(wrong, 405, "method_not_allowed")
        assert wrong.headers["allow"] == "GET, HEAD, POST"
    error_of(httpx.get(sim.url + "/v1/videos"), 401, None)


def test_sim_endpoints_reset_and_profile_switch(sim: Proc) -> None:
    sdk(sim).videos.create(prompt="counted", seconds="4")  # its own create: xdist may run this test first
    body = stats(sim)
    assert body["profile"] == "openai-2025-10" and body["calls"]["create"] > 0
    assert {"calls", "generations", "jobs", "profile"} <= set(body)
    zero = httpx.post(sim.url + "/_sim/reset").json()
    assert zero["generations"] == 0 and not any(zero["calls"].values())
    with http(sim) as c:
        try:
            assert httpx.post(sim.url + "/_sim/profile", json={"profile": "openai-2026-03"}).status_code == 200
            error_of(c.post("/v1/videos/extensions", json={}), 400, "missing_required_parameter", "video")
            assert {m["id"] for m in c.get("/v1/models").json()["data"]} >= {"sora-2-2025-12-08"}
        finally:
            httpx.post(sim.url + "/_sim/profile", json={"profile": "openai-2025-10"})
        error_of(c.post("/v1/videos/extensions", json={}), 404, None)
    error_of(httpx.post(sim.url + "/_sim/profile", json={"profile": "x"}), 400, "invalid_value", "profile")
    assert stats(sim)["calls"]["extend"] == 2


def test_2026_extensions_edits_characters(paced_sim26: Proc, tmp_path: Path) -> None:
    """SDK 3.51 only sends ``video`` as a file part, so ``{"id"}`` references go through httpx."""
    sim26 = paced_sim26
    client = sdk(sim26)
    source = client.videos.create(prompt="start", seconds="4", size="1280x720")
    with http(sim26) as c:
        error_of(c.post("/v1/videos/extensions", json={}), 400, "missing_required_parameter", "video")
        ext = {"video": {"id": source.id}, "prompt": "and then", "seconds": "8"}
        error_of(c.post("/v1/videos/extensions", json=ext), 400, "video_not_ready", "video")
        client.videos.poll(source.id)
        error_of(c.post("/v1/videos/extensions", json={**ext, "seconds": "24"}), 400, "invalid_value", "seconds")
        extended = c.post("/v1/videos/extensions", json=ext).json()
        assert (extended["seconds"], extended["size"], extended["status"]) == ("12", "1280x720", "queued")
        client.videos.poll(extended["id"])
        info = mp4_info(client.videos.download_content(extended["id"]).read(), tmp_path)
        assert info["duration"] == pytest.approx(12.0, abs=0.1)
        form = {"video[id]": extended["id"], "prompt": "more", "seconds": "20"}
        longer = c.post("/v1/videos/extensions", files={k: (None, v) for k, v in form.items()}).json()
        assert longer["seconds"] == "32"
        edit = c.post("/v1/videos/edits", json={"video": {"id": source.id}, "prompt": "in blue"}).json()
        assert client.videos.poll(edit["id"]).seconds == "4"
    clip = tmp_path / "upload.mp4"
    render_video(clip, [Segment("upload", 3)], 64, 36)
    uploaded = client.videos.edit(video=clip.read_bytes(), prompt="uploaded edit")
    assert (uploaded.seconds, uploaded.size) == ("3", "1280x720")
    grown = client.videos.extend(video=("clip.mp4", clip.read_bytes(), "video/mp4"), prompt="on", seconds="4")
    assert grown.seconds == "7"
    character = client.videos.create_character(video=("me.mp4", clip.read_bytes(), "video/mp4"), name="Robin")
    assert character.name == "Robin" and character.id
    assert client.videos.get_character(character.id).name == "Robin"
    with pytest.raises(openai.BadRequestError):
        client.videos.create_character(video=("x.mp4", b"not a video", "video/mp4"), name="X")
    assert "sora-2-2025-12-08" in {m.id for m in client.models.list()}
    assert stats(sim26)["calls"]["extend"] == 6


def test_azure_jobs(azure: Proc, tmp_path: Path) -> None:
    statuses = {"preprocessing", "queued", "running", "processing", "succeeded", "failed"}
    with httpx.Client(base_url=azure.url, headers={"api-key": "az-key"}, params=AZQ, timeout=10) as c:
        created = c.post(f"{AZ}/jobs", json={"model": "sora", "prompt": "a boat", "width": 854, "height": 480,
                                             "n_seconds": 7, "n_variants": 2})  # fmt: skip
        job = created.json()
        assert created.status_code == 200 and re.fullmatch(r"task_[0-9a-z]{26}", job["id"])
        assert (job["object"], job["status"], job["generations"], job["failure_reason"]) == (
            "video.generation.job", "preprocessing", [], None
        )  # fmt: skip
        seen = {wait(c, f"{AZ}/jobs/{job['id']}", statuses - {"preprocessing"})["status"]}
        done = wait(c, f"{AZ}/jobs/{job['id']}", {"succeeded", "failed"})
        assert seen <= statuses and done["status"] == "succeeded" and done["finished_at"] and done["expires_at"]
        gens = done["generations"]
        assert len(gens) == 2 and gens[0]["object"] == "video.generation" and gens[0]["n_seconds"] == 7
        videos = [c.get(f"{AZ}/{g['id']}/content/video").content for g in gens]
        assert videos[0] != videos[1]
        info = mp4_info(videos[0], tmp_path)
        assert (info["width"], info["height"], info["duration"]) == (128, 72, pytest.approx(7.0, abs=0.1))
        assert c.get(f"{AZ}/{gens[0]['id']}/content/thumbnail").headers["content-type"] == "image/jpeg"
        listed = c.get(f"{AZ}/jobs").json()
        assert listed["object"] == "list" and listed["first_id"] == job["id"] and listed["has_more"] is False
        flagged = c.post(f"{AZ}/jobs", json={"model": "sora", "prompt": "Forbidden", "width": 480, "height": 480})
        failed = wait(c, f"{AZ}/jobs/{flagged.json()['id']}", {"succeeded", "failed"})
        assert (failed["status"], failed["failure_reason"]) == ("failed", "input_moderation")
        assert c.delete(f"{AZ}/jobs/{job['id']}").status_code == 204
        error_of(c.get(f"{AZ}/jobs/{job['id']}"), 404, "not_found")
        error_of(c.get(f"{AZ}/{gens[0]['id']}/content/video"), 404, "not_found")
        error_of(
            c.post(f"{AZ}/jobs", json={"prompt": "x", "width": 1000, "height": 480}), 400, "invalid_value", "width"
        )
        error_of(c.post(f"{AZ}/jobs", json={"prompt": "x", "n_seconds": 21}), 400, "invalid_value", "n_seconds")
        no_version = httpx.get(f"{azure.url}{AZ}/jobs", headers={"api-key": "k"})
        error_of(no_version, 400, "missing_api_version", "api-version")
        assert [m["id"] for m in c.get("/openai/v1/models").json()["data"]] == ["sora"]
        error_of(c.post("/v1/videos", json={"prompt": "x"}), 404, None)
        error_of(httpx.get(f"{azure.url}{AZ}/jobs", params=AZQ), 401, None)


def test_api_keys_from_env() -> None:
    for proc in _sim(SORA_GATEWAY_SIMULATOR_API_KEY="sk-a,sk-b"):
        assert sdk(proc, "sk-b").videos.list().data == []
        with pytest.raises(openai.AuthenticationError):
            sdk(proc, "sk-c").videos.list()


def test_rate_limit() -> None:
    for proc in _sim("--rpm", "2"):
        with http(proc) as c:
            ok = [c.post("/v1/videos", json={"prompt": "r"}) for _ in range(2)]
            assert [r.headers["x-ratelimit-remaining-requests"] for r in ok] == ["1", "0"]
            refused = c.post("/v1/videos", json={"prompt": "r"})
            error = error_of(refused, 429, "rate_limit_exceeded")
            assert error["type"] == "requests" and 1 <= int(refused.headers["retry-after"]) <= 60
            assert refused.headers["x-ratelimit-limit-requests"] == "2"
            assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
            assert c.get(f"/v1/videos/{ok[0].json()['id']}").status_code == 200
        with http(proc, "sk-other") as other:
            assert other.post("/v1/videos", json={"prompt": "r"}).status_code == 200
        assert stats(proc)["rejected"]["rpm"] == 1


def test_concurrency_limit() -> None:
    for proc in _sim("--max-concurrent", "1", ts=0.02):
        with http(proc) as c:
            first = c.post("/v1/videos", json={"prompt": "one"}).json()
            refused = c.post("/v1/videos", json={"prompt": "two"})
            error_of(refused, 429, "concurrency_limit_exceeded")
            assert int(refused.headers["retry-after"]) >= 1
            wait(c, f"/v1/videos/{first['id']}", {"completed"})
            assert c.post("/v1/videos", json={"prompt": "two"}).status_code == 200


def test_faults() -> None:
    def set_faults(proc: Proc, spec: str) -> None:
        assert httpx.post(proc.url + "/_sim/faults", json={"faults": spec}).status_code == 200

    for proc in _sim("--faults", "5xx=1", "--seed", "3"):
        with http(proc) as c:
            for _ in range(4):
                assert c.post("/v1/videos", json={"prompt": "x"}).json()["error"]["type"] == "server_error"
            assert stats(proc)["generations"] == 0 and stats(proc)["faults"]["5xx"] == 4
            set_faults(proc, "429=1")
            limited = c.get("/v1/videos")
            error_of(limited, 429, "rate_limit_exceeded")
            assert limited.headers["retry-after"] == "1"
            set_faults(proc, "reset=1")
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):  # EOF or RST, no response
                c.post("/v1/videos", json={"prompt": "x"})
            with pytest.raises(openai.APIConnectionError):
                sdk(proc).videos.list()
            set_faults(proc, "slow=1,slow_s=0.3")
            started = time.monotonic()
            assert c.get("/v1/videos").status_code == 200
            assert time.monotonic() - started >= 0.3
            set_faults(proc, "fail=1")
            vid = c.post("/v1/videos", json={"prompt": "doomed"}).json()["id"]
            failed = wait(c, f"/v1/videos/{vid}", {"completed", "failed"})
            assert failed["status"] == "failed" and failed["error"]["code"] == "video_generation_failed"
            error_of(c.get(f"/v1/videos/{vid}/content"), 400, "video_failed")
            set_faults(proc, "")
            assert c.get("/v1/videos").status_code == 200
            error_of(httpx.post(proc.url + "/_sim/faults", json={"faults": "boom=1"}), 400, "invalid_value", "faults")


def test_bad_flags_exit_nonzero() -> None:
    cmd = [sys.executable, "-m", "gateway", "simulator", "--faults", "boom=1", "--port", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "boom" in result.stdout + result.stderr
