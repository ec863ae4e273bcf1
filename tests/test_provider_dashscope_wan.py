"""The DashScope Wan dialect against the simulated DashScope API (real simulator processes, plain HTTP, PyAV).

Literal request bodies are compared with the spec's examples (/work/notes/providers/dashscope-wan.md, from the
vendor's API references and SDK), so a dialect drifting from the docs fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.models import Reference
from gateway.media.frames import last_frame, write_png
from gateway.media.probe import probe_duration, probe_video
from gateway.media.render import Segment, render_video
from gateway.providers.dashscope_wan.answers import parse_task, read_error
from gateway.providers.dashscope_wan.dialect import CREATE_PATH, DashScopeWanUpstream
from gateway.providers.dashscope_wan.wire import create_body
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import calls, sim_stats
from tests.procs import Proc, start_simulator

KEY = "sk-" + "0123456789abcdef" * 2  # DashScope's shape: sk- and 32 hex digits
AUTH = {"Authorization": f"Bearer {KEY}"}
ASYNC = {**AUTH, "X-DashScope-Async": "enable"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="dashscope-wan", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Proc]:
    """Real-time tasks (a minute each), one running per key and model, two creates a minute."""
    proc = start_simulator("--api-key", KEY, "--max-concurrent", "1", "--rpm", "2", profile="dashscope-wan",
                           time_scale=1.0)  # fmt: skip
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def short_urls_sim() -> Iterator[Proc]:
    """Tasks (and their video URLs) kept for 24 h x 0.00005 (4.3 s); the files themselves for 5000 s."""
    proc = start_simulator("--api-key", KEY, "--content-ttl", "100000000", profile="dashscope-wan",
                           time_scale=0.00005)  # fmt: skip
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def wan(sim: Proc) -> AsyncIterator[DashScopeWanUpstream]:
    adapter = DashScopeWanUpstream(sim.url, KEY)
    yield adapter
    await adapter.close()


def spec(prompt: str = "a red kite over dunes", **kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": prompt, "model": "wan2.7-t2v", "size": "1280x720"}
    return GenerationSpec(**{**fields, "seconds": 5, **kw})


def frame_png(tmp_path: Path, width: int, height: int) -> Reference:
    """A real last frame (a PNG the size of the video), as the gateway chains segments with."""
    render_video(tmp_path / f"v{width}.mp4", [Segment("x", 1)], width, height, fps=2)
    path = tmp_path / f"frame{width}x{height}.png"
    write_png(last_frame(tmp_path / f"v{width}.mp4"), path)
    return Reference(filename=path.name, content_type="image/png", path=str(path))


async def fetch(method: str, url: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kw)


async def until_done(adapter: DashScopeWanUpstream, task_id: str) -> UpstreamVideo:
    for _ in range(600):
        video = await adapter.retrieve(task_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never finished")


async def download(adapter: DashScopeWanUpstream, task_id: str, path: Path) -> tuple[int, int, float]:
    stream = await adapter.open_content(task_id, "video")
    path.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


# -- the literal bodies -------------------------------------------------------------------------------------------
async def test_create_bodies_are_the_documented_ones(tmp_path: Path) -> None:
    # the legacy text-to-video example of the spec (shot_type left at its default, prompt_extend off: see wire.py)
    legacy = spec("A kitten runs under the moonlight", model="wan2.6-t2v", negative_prompt="flowers", seed=12345)
    assert await create_body(legacy) == {
        "model": "wan2.6-t2v",
        "input": {"prompt": "A kitten runs under the moonlight", "negative_prompt": "flowers"},
        "parameters": {"size": "1280*720", "duration": 5, "prompt_extend": False, "watermark": False, "seed": 12345},
    }
    # a 12 s 720x1280 sora-2 request: one wan2.7 create (2-15 s), the literal JSON on the wire
    body = await create_body(spec("a paper boat on a canal", size="720x1280", seconds=12, idempotency_key="v-0-1"))
    assert json.dumps(body) == (
        '{"model": "wan2.7-t2v", "input": {"prompt": "a paper boat on a canal"}, "parameters": {"resolution": '
        '"720P", "ratio": "9:16", "duration": 12, "prompt_extend": false, "watermark": false}}'
    )
    # an image goes to the family's image model: wan2.7 as media[first_frame], legacy as img_url + resolution
    frame = frame_png(tmp_path, 64, 36)
    i2v = await create_body(spec(size="1920x1080", seconds=10, reference=frame, enhance_prompt=True))
    assert i2v["model"] == "wan2.7-i2v" and list(i2v["input"]) == ["prompt", "media"]
    (media,) = i2v["input"]["media"]
    assert media["type"] == "first_frame" and media["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert i2v["parameters"] == {"resolution": "1080P", "duration": 10, "prompt_extend": True, "watermark": False}
    url = Reference(image_url="https://example.com/first.png")
    old = await create_body(spec("a cat", model="wan2.6-t2v", size="1920x1080", seconds=10, reference=url))
    assert old == {
        "model": "wan2.6-i2v",
        "input": {"prompt": "a cat", "img_url": "https://example.com/first.png"},
        "parameters": {"resolution": "1080P", "duration": 10, "prompt_extend": False, "watermark": False},
    }
    tiny = await create_body(spec("dunes", model="wan2.2-t2v-plus", size="832x480"))
    assert tiny["parameters"]["size"] == "832*480" and isinstance(tiny["parameters"]["duration"], int)


async def test_what_dashscope_would_refuse_is_refused_before_sending(wan: DashScopeWanUpstream, sim: Proc) -> None:
    before = calls(sim, "wan_create")
    cases = [
        (spec(kind="remix", source_id="x"), "unsupported_by_upstream", None),
        (spec(negative_prompt="x" * 501), "invalid_value", "negative_prompt"),
        (spec(seed=2**31), "invalid_value", "seed"),
        (spec(size="1792x1024"), "invalid_value", "size"),
        (spec(reference=Reference(image_url="ftp://example.com/a.png")), "invalid_value", "input_reference"),
        (spec(model="wan2.7-i2v"), "unsupported_by_upstream", None),  # an image model without an image
    ]
    for bad, code, param in cases:
        with pytest.raises(UpstreamError) as err:
            await wan.create(bad)
        assert (err.value.status, err.value.code, err.value.param) == (400, code, param)
    assert calls(sim, "wan_create") == before


# -- create, poll, download -----------------------------------------------------------------------------------------
async def test_create_poll_and_download_a_real_video(wan: DashScopeWanUpstream, sim: Proc, tmp_path: Path) -> None:
    created = await wan.create(spec(size="720x1280", seconds=12))
    assert created.status == "queued" and created.poll_after_ms == 5000 and created.model == "wan2.7-t2v"
    raw = (await fetch("GET", f"{sim.url}/api/v1/tasks/{created.id}", headers=AUTH)).json()
    assert raw["output"]["task_status"] in ("PENDING", "RUNNING", "SUCCEEDED") and "request_id" in raw
    done = await until_done(wan, created.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None and done.seconds == "12"
    url = done.content_ids["video"]
    assert url.startswith(sim.url + "/oss/") and "Expires=" in url and KEY not in url
    assert done.expires_at is not None and str(done.expires_at) in url
    oss = calls(sim, "wan_oss")
    assert await download(wan, created.id, tmp_path / "v.mp4") == (720, 1280, pytest.approx(12.0, abs=0.01))
    assert calls(sim, "wan_oss") == oss + 1 and calls(sim, "wan_oss_with_auth") == 0  # the key never went there
    final = (await fetch("GET", f"{sim.url}/api/v1/tasks/{created.id}", headers=AUTH)).json()
    assert final["usage"]["duration"] == 12 and final["output"]["end_time"][4] == "-"
    assert "actual_prompt" not in final["output"]  # prompt_extend was false
    with pytest.raises(UpstreamError) as err:
        await wan.open_content(created.id, "thumbnail")
    assert err.value.status == 404
    assert wan.lists is False  # the task list shows no prompt: a lost create is never matched, never re-sent blind
    with pytest.raises(UpstreamError) as err:
        await wan.list_page()
    assert err.value.status == 405


async def test_an_image_goes_to_the_image_model_and_keeps_its_size(
    wan: DashScopeWanUpstream, sim: Proc, tmp_path: Path
) -> None:
    i2v = calls(sim, "wan_create_i2v")
    for model, size in (("wan2.7-t2v", "1280x720"), ("wan2.2-t2v-plus", "832x480"), ("wan2.6-t2v", "1080x1920")):
        width, height = (int(n) for n in size.split("x"))
        created = await wan.create(spec(model=model, size=size, reference=frame_png(tmp_path, width, height)))
        assert created.model == {"wan2.7-t2v": "wan2.7-i2v", "wan2.2-t2v-plus": "wan2.2-i2v-plus",
                                 "wan2.6-t2v": "wan2.6-i2v"}[model]  # fmt: skip
        done = await until_done(wan, created.id)
        assert done.status == "completed", done.error
        assert await download(wan, created.id, tmp_path / f"{model}.mp4") == (
            width,
            height,
            pytest.approx(5.0, abs=0.01),
        )
    assert calls(sim, "wan_create_i2v") == i2v + 3


async def test_list_models_is_a_free_authenticated_read(wan: DashScopeWanUpstream, sim: Proc) -> None:
    before, generations = calls(sim, "wan_list"), sim_stats(sim)["generations"]
    models = [m["id"] for m in await wan.list_models()]
    assert models[:4] == ["wan2.7-t2v", "wan2.6-t2v", "wan2.5-t2v-preview", "wan2.2-t2v-plus"]
    assert calls(sim, "wan_list") == before + 1 and sim_stats(sim)["generations"] == generations
    wrong = DashScopeWanUpstream(sim.url + "/api/v1", "sk-" + "f" * 32)  # a configured …/api/v1 works too
    try:
        with pytest.raises(UpstreamError) as err:
            await wrong.list_models()
        assert (err.value.status, err.value.code) == (401, "invalid_api_key")
        with pytest.raises(UpstreamError) as err:
            await wrong.create(spec())
        assert err.value.status == 401 and "InvalidApiKey" in err.value.message and "f" * 32 not in err.value.message
    finally:
        await wrong.close()


def test_auth_and_the_async_header_are_refused_the_dashscope_way(sim: Proc) -> None:
    body = {"model": "wan2.7-t2v", "input": {"prompt": "a kite"}, "parameters": {"duration": 5}}
    answers = [
        httpx.post(sim.url + CREATE_PATH, json=body, headers={"X-DashScope-Async": "enable"}),
        httpx.post(sim.url + CREATE_PATH, json=body, headers={**ASYNC, "Authorization": "Bearer sk-wrong"}),
        httpx.post(sim.url + CREATE_PATH, json=body, headers=AUTH),  # a synchronous call
        httpx.get(sim.url + "/api/v1/tasks/86ecf553-d340-4e21-af6e-a0c6a421c010", headers=AUTH),
        httpx.get(sim.url + "/api/v1/nothing", headers=AUTH),
    ]
    shapes = [(a.status_code, a.json().get("code"), a.json().get("message")) for a in answers[:3]]
    assert shapes == [
        (401, "InvalidApiKey", "No API-key provided."),
        (401, "InvalidApiKey", "Invalid API-key provided."),
        (403, "AccessDenied", "current user api does not support synchronous calls"),
    ]
    assert all(set(a.json()) == {"request_id", "code", "message"} for a in answers[:3])
    unknown = answers[3]  # an unknown task is HTTP 200 with UNKNOWN, not a 404
    assert unknown.status_code == 200 and unknown.json()["output"] == {
        "task_id": "86ecf553-d340-4e21-af6e-a0c6a421c010", "task_status": "UNKNOWN"
    }  # fmt: skip
    assert (answers[4].status_code, answers[4].json()["code"]) == (404, "NotFound")


GOOD = {"model": "wan2.7-t2v", "input": {"prompt": "a kite"}, "parameters": {"resolution": "720P", "duration": 5}}


@pytest.mark.parametrize(
    ("change", "fragment", "status"),
    [
        ({"parameters": {"duration": "5"}}, "parameters.duration", 400),  # a string "5" is not the integer 5
        ({"parameters": {"duration": 5.0}}, "parameters.duration", 400),
        ({"parameters": {"duration": 16}}, "parameters.duration", 400),  # wan2.7: 2..15, refused at create
        ({"parameters": {"seed": "42"}}, "parameters.seed", 400),
        ({"parameters": {"seed": -1}}, "parameters.seed", 400),
        ({"parameters": {"prompt_extend": "true"}}, "parameters.prompt_extend", 400),
        ({"parameters": {"watermark": 0}}, "parameters.watermark", 400),
        ({"parameters": {"resolution": "720p"}}, "resolution", 400),  # uppercase only
        ({"parameters": {"ratio": "21:9"}}, "ratio", 400),
        ({"parameters": {"size": "1280*720"}}, "parameters.size", 400),  # wan2.7 takes no size
        ({"model": "wan2.6-t2v", "parameters": {"size": "1280x720"}}, "size must be in", 400),
        ({"model": "wan2.6-t2v", "parameters": {"resolution": "720P"}}, "parameters.resolution", 400),
        ({"model": "wan2.6-i2v", "input": {"prompt": "x"}}, "input.img_url", 400),
        ({"model": "wan2.6-i2v", "input": {"img_url": "data:image/gif;base64,R0lGOD=="}}, "input.img_url", 400),
        (
            {"model": "wan2.7-i2v", "input": {"media": [{"type": "last_frame", "url": "https://e.com/a.png"}]}},
            "input.media",
            400,
        ),
        ({"input": {"prompt": 7}}, "input.prompt", 400),
        ({"input": {"prompt": "x", "negative_prompt": "n" * 501}}, "input.negative_prompt", 400),
        ({"input": {"text": "a kite"}}, "input.text", 400),
        ({"model": "wan9-t2v"}, "wan9-t2v", 404),
    ],
)
async def test_each_field_wire_type_is_checked(
    wan: DashScopeWanUpstream, sim: Proc, change: dict[str, Any], fragment: str, status: int
) -> None:
    body = {**GOOD, **change}
    generations = sim_stats(sim)["generations"]
    raw = await wan.http.client.post(CREATE_PATH, json=body, headers={"X-DashScope-Async": "enable"})
    assert raw.status_code == status, raw.text
    data = raw.json()
    assert set(data) == {"request_id", "code", "message"} and fragment in data["message"]
    assert data["code"] == ("InvalidParameter" if status == 400 else "ModelNotFound")
    mapped = read_error(raw)  # what the dialect makes of it
    assert (mapped.status, mapped.code) == ((400, "invalid_value") if status == 400 else (404, "model_not_found"))
    assert mapped.message.startswith(f"DashScope {data['code']}: ")
    assert sim_stats(sim)["generations"] == generations


# -- failures, moderation, limits -------------------------------------------------------------------------------------
async def test_moderation_maps_to_moderation_blocked(wan: DashScopeWanUpstream, sim: Proc) -> None:
    generations = sim_stats(sim)["generations"]
    with pytest.raises(UpstreamError) as err:  # the input is refused at create: no task, nothing to pay
        await wan.create(spec("a forbidden ritual"))
    assert (err.value.status, err.value.code) == (400, "moderation_blocked") and not err.value.retryable
    assert err.value.message == "DashScope DataInspectionFailed: Input data may contain inappropriate content."
    assert sim_stats(sim)["generations"] == generations
    refused_out = await until_done(wan, (await wan.create(spec("a gore fest"))).id)  # the output is refused
    assert refused_out.status == "failed" and refused_out.error == {
        "code": "moderation_blocked",
        "message": "DashScope DataInspectionFailed: Output data may contain inappropriate content.",
    }
    assert sim_stats(sim)["generations"] == generations + 1


async def test_failed_tasks_are_http_200_with_the_reason_inside(wan: DashScopeWanUpstream, sim: Proc) -> None:
    # a legacy model takes any duration at create and fails the task (as the live API does on wan2.2)
    body = {"model": "wan2.2-t2v-plus", "input": {"prompt": "a kite"}, "parameters": {"size": "832*480", "duration": 3}}
    raw = await wan.http.client.post(CREATE_PATH, headers={"X-DashScope-Async": "enable"}, json=body)
    assert raw.status_code == 200 and raw.json()["output"]["task_status"] == "PENDING"
    task_id = raw.json()["output"]["task_id"]
    failed = await until_done(wan, task_id)
    assert failed.error == {"code": "invalid_value", "message": "DashScope InvalidParameter: duration customization is "
                            "not supported"}  # fmt: skip
    answer = await fetch("GET", f"{sim.url}/api/v1/tasks/{task_id}", headers=AUTH)
    assert answer.status_code == 200 and answer.json()["output"]["code"] == "InvalidParameter"
    await fetch("POST", sim.url + "/_sim/faults", json={"faults": "fail=1"})
    try:
        broken = await until_done(wan, (await wan.create(spec("a calm lake"))).id)
    finally:
        await fetch("POST", sim.url + "/_sim/faults", json={"faults": ""})
    assert broken.error is not None and broken.error["code"] == "video_generation_failed"  # retried by the driver
    assert broken.error["message"].startswith("DashScope InternalError: ")


async def test_a_429_is_throttling_and_concurrency_keeps_tasks_pending(slow_sim: Proc) -> None:
    adapter = DashScopeWanUpstream(slow_sim.url, KEY)
    try:
        first = await adapter.create(spec())
        second = await adapter.create(spec())  # over the concurrency limit: accepted, PENDING until a slot frees
        generations = sim_stats(slow_sim)["generations"]
        with pytest.raises(UpstreamError) as err:  # a third create within the minute: --rpm 2
            await adapter.create(spec(model="wan2.6-t2v"))
        assert (err.value.status, err.value.code) == (429, "rate_limited") and err.value.retryable
        assert err.value.message.startswith("DashScope Throttling.RateQuota: ")
        assert sim_stats(slow_sim)["generations"] == generations
        assert (await adapter.retrieve(second.id)).status == "queued"
        await adapter.delete(second.id)  # cancelled while PENDING
        cancelled = await adapter.retrieve(second.id)
        assert cancelled.status == "failed" and cancelled.error == {
            "code": "cancelled", "message": "The DashScope task was canceled."
        }  # fmt: skip
        raw = await fetch("POST", f"{slow_sim.url}/api/v1/tasks/{second.id}/cancel", headers=AUTH)
        assert (raw.status_code, raw.json()["code"]) == (400, "UnsupportedOperation")
        await adapter.delete(second.id)  # no longer PENDING: a no-op, not an error
        await adapter.delete(first.id)
        await fetch("POST", slow_sim.url + "/_sim/reset")  # a fresh rate window
        await fetch("POST", slow_sim.url + "/_sim/faults", json={"faults": "429=1"})
        try:
            with pytest.raises(UpstreamError) as err:
                await adapter.create(spec())
        finally:
            await fetch("POST", slow_sim.url + "/_sim/faults", json={"faults": ""})
        assert (err.value.status, err.value.code, err.value.retry_after) == (429, "rate_limited", 1.0)
    finally:
        await adapter.close()


async def test_video_urls_need_no_key_and_expire_with_the_task(short_urls_sim: Proc) -> None:
    adapter = DashScopeWanUpstream(short_urls_sim.url, KEY)
    try:
        done = await until_done(adapter, (await adapter.create(spec(seconds=4))).id)
        url = done.content_ids["video"]
        with_key = await fetch("GET", url, headers=AUTH)
        assert with_key.status_code == 400 and calls(short_urls_sim, "wan_oss_with_auth") == 1
        forged = await fetch("GET", url.replace("Expires=", "Expires=9"))
        assert forged.status_code == 403
        await asyncio.sleep(4.6)  # the URL and the task are kept 24 h x 0.00005 = 4.3 s after the task ended
        expired = await fetch("GET", url)
        assert expired.status_code == 403 and b"Request has expired." in expired.content
        with pytest.raises(UpstreamError) as err:  # UNKNOWN: gone, not queued
            await adapter.retrieve(done.id)
        assert (err.value.status, err.value.code) == (404, "upstream_lost")
        with pytest.raises(UpstreamError) as err:
            await adapter.open_content(done.id, "video")
        assert (err.value.status, err.value.code) == (404, "content_expired")
    finally:
        await adapter.close()


def test_task_answers_and_refusals_map_to_the_gateway_words() -> None:
    def failed(code: str, message: str = "Blocked.") -> dict[str, Any] | None:
        return parse_task({"output": {"task_id": "t", "task_status": "FAILED", "code": code, "message": message}}).error

    errors = [failed(c) for c in ("DataInspectionFailed", "IPInfringementSuspect", "InvalidParameter", "InternalError")]
    assert [e["code"] if e else None for e in errors] == [
        "moderation_blocked", "moderation_blocked", "invalid_value", "video_generation_failed",
    ]  # fmt: skip
    assert errors[0] == {"code": "moderation_blocked", "message": "DashScope DataInspectionFailed: Blocked."}
    running = parse_task(
        {"output": {"task_id": "t", "task_status": "RUNNING", "submit_time": "2026-01-22 23:24:46.527"}}
    )
    assert (running.status, running.progress, running.poll_after_ms) == ("in_progress", 0, 5000)
    assert parse_task({"output": {"task_id": "t", "task_status": "SUSPENDED"}}).status == "in_progress"
    with pytest.raises(UpstreamError) as err:
        parse_task({"request_id": "r", "output": {"task_id": "t", "task_status": "UNKNOWN"}})
    assert (err.value.status, err.value.code) == (404, "upstream_lost")
    request = httpx.Request("POST", "https://dashscope-intl.aliyuncs.com" + CREATE_PATH)

    def refused(status: int, code: str, message: str = "m") -> tuple[int, str | None]:
        error = read_error(httpx.Response(status, json={"request_id": "r", "code": code, "message": message},
                                          request=request))  # fmt: skip
        return error.status, error.code

    assert refused(429, "Throttling.AllocationQuota") == (429, "quota_exhausted")
    assert refused(400, "Arrearage") == (429, "quota_exhausted")  # the account's balance: another upstream may serve
    assert refused(403, "AllocationQuota.FreeTierOnly") == (429, "quota_exhausted")
    assert refused(400, "DataInspectionFailed") == (400, "moderation_blocked")
    assert refused(403, "AccessDenied.Unpurchased") == (403, "permission_denied")
    assert refused(500, "InternalError") == (500, "upstream_error")
    busy = read_error(httpx.Response(503, text="<html>", request=request))
    assert busy.status == 503 and busy.retryable


# -- whatever DashScope answers reads as a video or an UpstreamError -----------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
STATUS_WORDS = st.sampled_from(["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN", "SUSPENDED", "x"])
OUTPUT = st.fixed_dictionaries(
    {"task_id": st.text(min_size=1, max_size=8), "task_status": STATUS_WORDS},
    optional={"video_url": JSON, "code": JSON, "message": JSON},
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(OUTPUT, JSON)
def test_any_task_answer_reads_as_a_video_or_an_upstream_error(output: dict[str, Any], usage: Any) -> None:
    try:
        video = parse_task({"request_id": "r", "output": output, "usage": usage})
    except UpstreamError as exc:
        assert (exc.status, exc.code) == (404, "upstream_lost") and output["task_status"] == "UNKNOWN"
        return
    assert video.status in ("queued", "in_progress", "completed", "failed")
    assert video.status != "failed" or (video.error is not None and video.error["code"])
    assert video.status != "completed" or isinstance(video.content_ids["video"], str)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(min_value=400, max_value=599), JSON)
def test_any_refusal_reads_as_an_upstream_error(status: int, body: Any) -> None:
    request = httpx.Request("GET", "https://dashscope-intl.aliyuncs.com/api/v1/tasks/t")
    error = read_error(httpx.Response(status, json=body, request=request))
    assert 400 <= error.status < 600 and error.message.startswith("DashScope")
    assert error.status != 400 or error.code in ("invalid_value", "moderation_blocked")
