"""The Ark Seedance dialect against the simulated BytePlus ModelArk (real simulator processes, plain HTTP, PyAV).

Literal request bodies are compared with the spec's examples (/work/notes/providers/ark-seedance.md, from
docs.byteplus.com ModelArk 1520757 and the vendor SDK), so a dialect drifting from the docs fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core.models import Reference
from gateway.media.frames import last_frame, write_png
from gateway.media.probe import probe_duration, probe_video
from gateway.media.render import Segment, render_video
from gateway.providers.ark_seedance.dialect import ArkSeedanceUpstream, ark_base
from gateway.providers.ark_seedance.errors import read_error
from gateway.providers.ark_seedance.wire import create_body, parse_task
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import calls, sim_stats
from tests.procs import Proc, start_simulator
from tests.receiver import Receiver

KEY = "ark-3f9c2b7e-5d1a-4c8e-9b0f-0123456789ab"  # an Ark API key's shape
FAST = "dreamina-seedance-2-0-fast-260128"
PRO = "dreamina-seedance-2-0-260128"
TASKS = "/contents/generations/tasks"


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="ark-seedance", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Proc]:
    """Slow tasks (queued 0.5 s, then running 5.5 s on Seedance 2.0), one running per model, two creates a minute."""
    proc = start_simulator("--api-key", KEY, "--max-concurrent", "1", "--rpm", "2", profile="ark-seedance",
                           time_scale=0.05)  # fmt: skip
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def short_urls_sim() -> Iterator[Proc]:
    """Video URLs valid 86400 s x 0.0001 (8.6 s); the files themselves kept for 10000 s."""
    proc = start_simulator("--api-key", KEY, "--content-ttl", "100000000", profile="ark-seedance",
                           time_scale=0.0001)  # fmt: skip
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def ark(sim: Proc) -> AsyncIterator[ArkSeedanceUpstream]:
    adapter = ArkSeedanceUpstream(sim.url + "/api/v3", KEY)
    yield adapter
    await adapter.close()


def spec(prompt: str = "a red kite over dunes", **kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": prompt, "model": FAST, "size": "1280x720"}
    return GenerationSpec(**{**fields, "seconds": 5, **kw})


def frame_png(tmp: Path, width: int = 640, height: int = 360, name: str = "frame.png") -> Path:
    """A real PNG (a rendered video's last frame) of ``width`` x ``height``."""
    video = tmp / f"{name}.mp4"
    render_video(video, [Segment("a frame", 1)], width, height, fps=2)
    out = tmp / name
    write_png(last_frame(video), out)
    return out


async def fetch(method: str, url: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kw)


async def until_done(adapter: ArkSeedanceUpstream, task_id: str) -> UpstreamVideo:
    for _ in range(400):
        video = await adapter.retrieve(task_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never finished")


def creates(sim: Proc) -> int:
    return calls(sim, "ark_create")


# -- the literal bodies -------------------------------------------------------------------------------------------
async def test_create_bodies_are_the_documented_ones(tmp_path: Path) -> None:
    # the one create of a 12 s 720x1280 sora-2 request (sora-2 -> Seedance 2.0 Fast, 9:16 at 720p, 12 s in one)
    body = await create_body(spec("A kitten chases fireflies at dusk, slow dolly in", size="720x1280", seconds=12,
                                  idempotency_key="vid_1-0-1"))  # fmt: skip
    assert json.dumps(body) == (
        '{"model": "dreamina-seedance-2-0-fast-260128", "content": [{"type": "text", "text": "A kitten chases '
        'fireflies at dusk, slow dolly in"}], "ratio": "9:16", "resolution": "720p", "duration": 12, '
        '"generate_audio": true, "watermark": false}'
    )
    # the spec's 2.0 example (16:9 720p 5 s), and 1080p on Seedance 2.0 (a seed is not sent: 2.0 takes none)
    assert await create_body(spec("A kitten chases fireflies at dusk, slow dolly in", model=PRO, seed=7)) == {
        "model": PRO, "content": [{"type": "text", "text": "A kitten chases fireflies at dusk, slow dolly in"}],
        "ratio": "16:9", "resolution": "720p", "duration": 5, "generate_audio": True, "watermark": False,
    }  # fmt: skip
    assert (await create_body(spec(model=PRO, size="1080x1920", seconds=15)))["resolution"] == "1080p"
    # the spec's 1.0 pro example: a first frame by URL, a seed; 1.0 makes 1248x704 at 16:9 720p, has no audio
    first = Reference(image_url="https://ark-doc.tos-ap-southeast-1.bytepluses.com/doc_image/i2v_foxrgirl.png")
    one = await create_body(spec("The girl turns and smiles", model="seedance-1-0-pro-250528", size="1920x1088",
                                 seed=11, reference=first))  # fmt: skip
    assert one == {
        "model": "seedance-1-0-pro-250528",
        "content": [{"type": "text", "text": "The girl turns and smiles"},
                    {"type": "image_url", "image_url": {"url": first.image_url}, "role": "first_frame"}],
        "ratio": "16:9", "resolution": "1080p", "duration": 5, "seed": 11, "watermark": False,
    }  # fmt: skip
    assert (await create_body(spec(model="seedance-1-0-pro-250528", size="1248x704")))["resolution"] == "720p"
    # an upload is a data URI (lowercase subtype); a last frame goes with a first one; the callback URL as given
    png = frame_png(tmp_path)
    both = await create_body(spec(
        model="seedance-1-5-pro-251215", seed=3, callback_url="https://gw.example/cb/x",
        reference=Reference(path=str(png), content_type="image/PNG"),
        last_frame=Reference(path=str(png), content_type="image/png"),
    ))  # fmt: skip
    assert list(both) == ["model", "content", "ratio", "resolution", "duration", "seed", "generate_audio",
                          "watermark", "callback_url"]  # fmt: skip
    images = both["content"][1:]
    assert [i["role"] for i in images] == ["first_frame", "last_frame"]
    assert all(i["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo") for i in images)
    assert both["callback_url"] == "https://gw.example/cb/x" and both["seed"] == 3


async def test_what_ark_would_refuse_is_refused_before_sending(ark: ArkSeedanceUpstream, sim: Proc,
                                                               tmp_path: Path) -> None:  # fmt: skip
    before = creates(sim)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    png = Reference(path=str(frame_png(tmp_path)))
    cases = [
        (spec(kind="remix", source_id="x"), "unsupported_by_upstream", "video_id"),
        (spec(size="1920x1080"), "invalid_value", "size"),  # 2.0 Fast makes no 1080p
        (spec(seconds=16), "invalid_value", "seconds"),
        (spec(model="seedance-1-5-pro-251215", seconds=3), "invalid_value", "seconds"),
        (spec(last_frame=png), "invalid_value", "last_frame"),  # a last frame needs a first frame
        (spec(model="seedance-1-0-pro-fast-251015", size="1248x704", reference=png, last_frame=png),
         "unsupported_by_upstream", "last_frame"),
        (spec(reference=Reference(path=str(text))), "invalid_value", "input_reference"),
        (spec(reference=Reference(image_url="ftp://example.com/a.png")), "unsupported_by_upstream", "input_reference"),
    ]  # fmt: skip
    for bad, code, param in cases:
        with pytest.raises(UpstreamError) as err:
            await ark.create(bad)
        assert (err.value.status, err.value.code, err.value.param) == (400, code, param), err.value.message
    assert creates(sim) == before


# -- create, poll, download -----------------------------------------------------------------------------------------
async def test_create_poll_and_download_a_real_video(ark: ArkSeedanceUpstream, sim: Proc, tmp_path: Path) -> None:
    created = await ark.create(spec(size="720x1280", seconds=6))
    assert created.id.startswith("cgt-") and created.status == "queued" and created.poll_after_ms == 5000
    raw = (await ark.http.client.get(f"{TASKS}/{created.id}")).json()
    assert raw["status"] in ("queued", "running") and raw["error"] is None and "content" not in raw
    done = await until_done(ark, created.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert (done.size, done.seconds, done.model) == ("720x1280", "6", FAST)
    url = done.content_ids["video"]
    assert "X-Tos-Expires=86400" in url and KEY not in url
    stream = await ark.open_content(created.id, "video")
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    info = probe_video(mp4)
    assert (info["width"], info["height"]) == (720, 1280) and abs(probe_duration(mp4) - 6.0) < 0.01
    assert calls(sim, "ark_cdn_with_auth") == 0  # the key never went to the storage host
    with pytest.raises(UpstreamError) as err:
        await ark.open_content(created.id, "thumbnail")
    assert err.value.status == 404
    assert ark.lists is False and ark.callbacks is True  # tasks carry no prompt: no reconciliation by listing
    with pytest.raises(UpstreamError) as err:
        await ark.list_page()
    assert err.value.status == 405


async def test_seedance_1_0_makes_its_own_pixel_sizes(ark: ArkSeedanceUpstream, tmp_path: Path) -> None:
    done = await until_done(ark, (await ark.create(spec(model="seedance-1-0-pro-fast-251015", size="704x1248",
                                                        seconds=2))).id)  # fmt: skip
    assert (done.status, done.size, done.seconds) == ("completed", "704x1248", "2")
    stream = await ark.open_content(done.id, "video")
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    assert (probe_video(mp4)["width"], probe_video(mp4)["height"]) == (704, 1248)


async def test_an_image_to_video_task_takes_the_first_frame(ark: ArkSeedanceUpstream, tmp_path: Path) -> None:
    png = Reference(path=str(frame_png(tmp_path)), content_type="image/png")
    done = await until_done(ark, (await ark.create(spec(reference=png, last_frame=png, seconds=4))).id)
    assert (done.status, done.size) == ("completed", "1280x720")


async def test_list_models_is_a_free_authenticated_read(ark: ArkSeedanceUpstream, sim: Proc) -> None:
    before, generations = calls(sim, "ark_list"), sim_stats(sim)["generations"]
    models = [m["id"] for m in await ark.list_models()]
    assert models == [PRO, FAST, "seedance-1-5-pro-251215", "seedance-1-0-pro-250528", "seedance-1-0-pro-fast-251015"]
    assert calls(sim, "ark_list") == before + 1 and sim_stats(sim)["generations"] == generations
    wrong = ArkSeedanceUpstream(sim.url, "ark-wrong")  # a bare host gets /api/v3
    assert wrong.base_url == sim.url + "/api/v3" and ark_base("https://h.example/api/v3/") == "https://h.example/api/v3"
    try:
        with pytest.raises(UpstreamError) as err:
            await wrong.list_models()
        assert (err.value.status, err.value.code) == (401, "invalid_api_key")
        with pytest.raises(UpstreamError) as err:
            await wrong.create(spec())
        assert err.value.status == 401 and "AuthenticationError" in err.value.message and KEY not in err.value.message
    finally:
        await wrong.close()


def test_auth_and_unknown_routes_are_refused_the_ark_way(sim: Proc) -> None:
    body = {"model": FAST, "content": [{"type": "text", "text": "a kite"}]}
    url = sim.url + "/api/v3" + TASKS
    answers = [
        httpx.post(url, json=body),
        httpx.post(url, json=body, headers={"Authorization": "Bearer ark-other"}),
        httpx.get(url + "/cgt-20250331175019-68d9t", headers={"Authorization": f"Bearer {KEY}"}),
        httpx.get(sim.url + "/api/v3/contents/nothing", headers={"Authorization": f"Bearer {KEY}"}),
    ]
    shapes = [(a.status_code, a.json()["error"]["code"], a.json()["error"]["type"]) for a in answers]
    assert shapes == [
        (401, "AuthenticationError", "Unauthorized"),
        (401, "AuthenticationError", "Unauthorized"),
        (404, "ResourceNotFound", "NotFound"),
        (404, "NotFound", "NotFound"),
    ]
    for answer in answers:
        assert set(answer.json()["error"]) == {"code", "message", "param", "type"}
        assert "Request id: 02" in answer.json()["error"]["message"] and answer.headers["x-request-id"]
    assert (
        answers[0].json()["error"]["message"].startswith("The API key or AK/SK in the request is missing or invalid.")
    )


GOOD = {"model": FAST, "content": [{"type": "text", "text": "a kite"}], "ratio": "16:9", "resolution": "720p",
        "duration": 5}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "param", "code", "ours"),
    [
        ({"duration": "5"}, "duration", "InvalidParameter", "seconds"),  # a string "5" is not the integer 5
        ({"duration": 5.0}, "duration", "InvalidParameter", "seconds"),
        ({"duration": 16}, "duration", "InvalidParameter", "seconds"),
        ({"duration": True}, "duration", "InvalidParameter", "seconds"),
        ({"ratio": "16x9"}, "ratio", "InvalidParameter", "size"),
        ({"resolution": "720P"}, "resolution", "InvalidParameter", "size"),  # lowercase p
        ({"resolution": "1080p"}, "resolution", "InvalidParameter", "size"),  # not on 2.0 Fast
        ({"generate_audio": "true"}, "generate_audio", "InvalidParameter", None),
        ({"watermark": 0}, "watermark", "InvalidParameter", None),
        ({"seed": 11}, "seed", "InvalidParameter.UnsupportedParameter", "seed"),  # 2.0: not yet supported
        ({"model": "seedance-1-5-pro-251215", "seed": "11"}, "seed", "InvalidParameter", "seed"),
        ({"model": "seedance-1-0-pro-250528", "generate_audio": True}, "generate_audio",
         "InvalidParameter.UnsupportedParameter", None),
        ({"callback_url": 5}, "callback_url", "InvalidParameter", "callback_url"),
        ({"content": "a kite"}, "content", "InvalidParameter", "prompt"),
        ({"content": [{"type": "text", "text": 5}]}, "content[0].text", "InvalidParameter", "prompt"),
        ({"content": [{"type": "image_url", "image_url": {"url": "data:image/PNG;base64,iVBORw0KGgo="}}]},
         "content[0].image_url", "InvalidParameter", "input_reference"),
        ({"duration_seconds": 5}, "duration_seconds", "InvalidParameter.UnsupportedParameter", None),
    ],
)  # fmt: skip
async def test_each_field_wire_type_is_checked(
    ark: ArkSeedanceUpstream, change: dict[str, Any], param: str, code: str, ours: str | None
) -> None:
    raw = await ark.http.client.post(TASKS, json={**GOOD, **change})
    assert raw.status_code == 400, raw.text
    error = raw.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (code, param, "BadRequest")
    mapped = read_error(raw)  # what the dialect makes of it
    assert (mapped.status, mapped.code, mapped.param) == (400, "invalid_value", ours)
    assert mapped.message.startswith("Ark Seedance: The parameter") and f"({code})" in mapped.message


# -- refusals, moderation, limits --------------------------------------------------------------------------------------
async def test_safety_refusals_map_to_moderation_blocked(ark: ArkSeedanceUpstream, sim: Proc) -> None:
    before, generations = creates(sim), sim_stats(sim)["generations"]
    with pytest.raises(UpstreamError) as err:  # the input text: refused at create, nothing made
        await ark.create(spec("a forbidden ritual"))
    assert (err.value.status, err.value.code) == (400, "moderation_blocked") and not err.value.retryable
    assert "InputTextSensitiveContentDetected" in err.value.message and "sensitive" in err.value.message
    assert (creates(sim), sim_stats(sim)["generations"]) == (before + 1, generations)
    refused_out = await until_done(ark, (await ark.create(spec("a gore fest"))).id)  # the output: a failed task
    assert refused_out.status == "failed" and refused_out.error is not None
    assert refused_out.error["code"] == "moderation_blocked"
    assert "OutputVideoSensitiveContentDetected" in refused_out.error["message"]
    await fetch("POST", sim.url + "/_sim/faults", json={"faults": "fail=1"})
    try:
        broken = await until_done(ark, (await ark.create(spec("a calm lake"))).id)
    finally:
        await fetch("POST", sim.url + "/_sim/faults", json={"faults": ""})
    assert broken.error is not None and broken.error["code"] == "video_generation_failed"  # retried by the driver
    assert "InternalServiceError" in broken.error["message"]


async def test_the_rate_limit_and_overload_are_429s(ark: ArkSeedanceUpstream, sim: Proc) -> None:
    await fetch("POST", sim.url + "/_sim/faults", json={"faults": "429=1"})
    try:
        with pytest.raises(UpstreamError) as err:
            await ark.create(spec())
    finally:
        await fetch("POST", sim.url + "/_sim/faults", json={"faults": ""})
    assert (err.value.status, err.value.code) == (429, "rate_limited") and err.value.retryable
    assert "ServerOverloaded" in err.value.message


def test_task_statuses_and_refusals_map_to_the_gateway_words() -> None:
    def task(status: str, **extra: Any) -> UpstreamVideo:
        return parse_task({"id": "cgt-1", "model": FAST, "status": status, "created_at": 1743414619, **extra})

    assert [task(s).status for s in ("queued", "running", "succeeded", "failed", "cancelled", "expired")] == [
        "queued", "in_progress", "failed", "failed", "failed", "failed",
    ]  # fmt: skip
    assert task("succeeded").error == {"code": "output_missing",
                                       "message": "Ark Seedance: the task succeeded without a video_url."}  # fmt: skip
    assert task("cancelled").error == {"code": "cancelled", "message": "Ark Seedance: the task was cancelled."}
    assert task("expired").error is not None and task("expired").error["code"] == "upstream_lost"  # type: ignore[index]
    privacy = "InputImageSensitiveContentDetected.PrivacyInformation"
    blocked = task("failed", error={"code": privacy, "message": "x"})
    assert blocked.error == {"code": "moderation_blocked", "message": f"Ark Seedance: x ({privacy})"}
    # the vendor's succeeded example (a Volcengine 1.0 pro task: 1.0 makes 1248x704 at 16:9 720p)
    done = parse_task({"id": "cgt-2025", "model": "doubao-seedance-1-0-pro-250528", "status": "succeeded",
                       "content": {"video_url": "https://tos.example/v.mp4?X-Tos-Expires=86400"}, "seed": 10,
                       "resolution": "720p", "ratio": "16:9", "duration": 5, "framespersecond": 24,
                       "created_at": 1743414619, "updated_at": 1743414673})  # fmt: skip
    assert (done.status, done.size, done.seconds, done.created_at) == ("completed", "1248x704", "5", 1743414619.0)
    assert done.content_ids == {"video": "https://tos.example/v.mp4?X-Tos-Expires=86400"}

    def refusal(status: int, code: str, message: str = "m", **headers: str) -> UpstreamError:
        request = httpx.Request("POST", "https://ark.ap-southeast.bytepluses.com/api/v3" + TASKS)
        body = {"error": {"code": code, "message": message, "param": "", "type": "x"}}
        return read_error(httpx.Response(status, json=body, headers=headers, request=request))

    assert [(e.status, e.code) for e in (
        refusal(429, "QuotaExceeded"), refusal(429, "RateLimitExceeded.EndpointRPMExceeded", **{"Retry-After": "3"}),
        refusal(403, "AccountOverdueError"), refusal(403, "AccessDenied"), refusal(404, "ModelNotOpen"),
        refusal(404, "ResourceNotFound"), refusal(400, "OutputVideoSensitiveContentDetected"),
        refusal(400, "SensitiveContentDetected.SevereViolation"), refusal(500, "InternalServiceError"),
    )] == [
        (429, "quota_exhausted"), (429, "rate_limited"), (429, "quota_exhausted"), (403, "permission_denied"),
        (404, "model_not_found"), (404, "not_found"), (400, "moderation_blocked"), (400, "moderation_blocked"),
        (500, "upstream_error"),
    ]  # fmt: skip
    assert refusal(429, "ServerOverloaded", **{"Retry-After": "3"}).retry_after == 3.0
    named = refusal(400, "InvalidParameter", "The parameter `ratio` specified in the request is not valid.")
    assert named.param == "size"
    garbled = read_error(httpx.Response(502, text="<html>bad gateway</html>", request=httpx.Request("GET", "http://x")))
    assert garbled.status == 502 and garbled.retryable


async def test_rpm_is_a_429_and_concurrency_queues(slow_sim: Proc) -> None:
    adapter = ArkSeedanceUpstream(slow_sim.url + "/api/v3", KEY)
    try:
        first = await adapter.create(spec(model=PRO))
        second = await adapter.create(spec(model=PRO))  # over the concurrency: accepted, waits queued
        for _ in range(400):  # the first starts after its 0.5 s in the queue
            if (await adapter.retrieve(first.id)).status == "in_progress":
                break
            await asyncio.sleep(0.05)
        raw = (await adapter.http.client.get(f"{TASKS}/{second.id}")).json()
        assert raw["status"] == "queued"  # until the first one ends (5.5 s of running)
        generations = sim_stats(slow_sim)["generations"]
        with pytest.raises(UpstreamError) as err:  # a third create within the minute: the model's RPM
            await adapter.create(spec())
        assert (err.value.status, err.value.code) == (429, "rate_limited") and err.value.retryable
        assert "ModelAccountRpmRateLimitExceeded" in err.value.message
        assert sim_stats(slow_sim)["generations"] == generations
        # DELETE: a queued task is cancelled; the running one cannot be (Ark refuses; it will be paid)
        await adapter.delete(second.id)
        cancelled = await adapter.retrieve(second.id)
        assert cancelled.status == "failed" and cancelled.error == {
            "code": "cancelled", "message": "Ark Seedance: the task was cancelled."
        }  # fmt: skip
        with pytest.raises(UpstreamError) as err:
            await adapter.delete(first.id)
        assert err.value.status == 400 and "running" in err.value.message
    finally:
        await adapter.close()


async def test_video_urls_need_no_key_and_expire(short_urls_sim: Proc, tmp_path: Path) -> None:
    adapter = ArkSeedanceUpstream(short_urls_sim.url + "/api/v3", KEY)
    try:
        done = await until_done(adapter, (await adapter.create(spec(seconds=4))).id)
        url = done.content_ids["video"]
        with_key = await fetch("GET", url, headers={"Authorization": f"Bearer {KEY}"})
        assert with_key.status_code == 400 and calls(short_urls_sim, "ark_cdn_with_auth") == 1
        stream = await adapter.open_content(done.id, "video")
        mp4 = tmp_path / "v.mp4"
        mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
        await stream.close()
        assert abs(probe_duration(mp4) - 4.0) < 0.01 and probe_video(mp4)["width"] == 1280
        for _ in range(600):  # the URL was signed for 86400 s x 0.0001 = 8.6 s
            if (await fetch("GET", url)).status_code == 403:
                break
            await asyncio.sleep(0.1)
        assert (await fetch("GET", url)).status_code == 403
        gets = calls(short_urls_sim, "ark_get")
        with pytest.raises(UpstreamError) as err:  # one fresh GET names the same URL: the video is gone
            await adapter.open_content(done.id, "video")
        assert (err.value.status, err.value.code) == (404, "content_expired")
        assert calls(short_urls_sim, "ark_get") == gets + 1 and calls(short_urls_sim, "ark_cdn_with_auth") == 1
        await adapter.delete(done.id)  # a finished task's record is deleted
        with pytest.raises(UpstreamError) as err:
            await adapter.retrieve(done.id)
        assert (err.value.status, err.value.code) == (404, "not_found")
        await adapter.delete(done.id)  # already gone: no error
    finally:
        await adapter.close()


# -- callbacks ------------------------------------------------------------------------------------------------------
async def test_the_callback_url_is_called_back_with_the_task_object(ark: ArkSeedanceUpstream, sim: Proc) -> None:
    receiver = Receiver().start()
    delivered = dict(sim_stats(sim)["callbacks"])["delivered"]  # type: ignore[arg-type]
    try:
        created = await ark.create(spec(seconds=4, callback_url=receiver.url + "/hooks/ark/secret-1"))
        done = await until_done(ark, created.id)
        for _ in range(400):
            if any(json.loads(r.body).get("status") == "succeeded" for r in receiver.at("/hooks/ark/secret-1")):
                break
            await asyncio.sleep(0.05)
        received = receiver.at("/hooks/ark/secret-1")
    finally:
        receiver.stop()
    bodies = [json.loads(r.body) for r in received]
    assert done.status == "completed"
    order = ["queued", "running", "succeeded"]
    statuses = [b["status"] for b in bodies]  # once per change, in order (a phase shorter than a tick may pass)
    assert statuses == sorted(set(statuses), key=order.index) and statuses[-1] == "succeeded"
    assert {b["id"] for b in bodies} == {created.id} and all(b["model"] == FAST for b in bodies)
    last = parse_task(bodies[-1])  # the body is the task object: the gateway reads it as a GET
    assert (last.status, last.size, last.seconds) == ("completed", "1280x720", "4")
    assert last.content_ids["video"] == done.content_ids["video"]
    assert bodies[-1]["usage"]["total_tokens"] == 1280 * 720 * (24 * 4 + 1) // 1024
    assert received[0].headers["content-type"] == "application/json" and "authorization" not in received[0].headers
    after = dict(sim_stats(sim)["callbacks"])["delivered"]  # type: ignore[arg-type]
    assert after - delivered == len(bodies)  # each one acknowledged once
