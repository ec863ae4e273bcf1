"""The Runway dialect against the simulated Runway API (real simulator processes, plain HTTP, PyAV).

Literal request bodies are compared with the spec's examples (/work/notes/providers/runway.md, taken
from docs.dev.runwayml.com and the vendor SDK), so a dialect drifting from the docs fails here.
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
from gateway.providers.runway.answers import FIELDS, parse_task, read_error
from gateway.providers.runway.dialect import RunwayUpstream
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import calls, sim_stats
from tests.procs import Proc, start_simulator

KEY = "key_" + "0123456789abcdef" * 8  # Runway's shape: key_ and 128 hex digits
VERSION = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="runway", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Proc]:
    """Real-time jobs (a minute each), one running per model, two creates per model a day."""
    proc = start_simulator("--api-key", KEY, "--max-concurrent", "1", "--rpm", "2", profile="runway", time_scale=1.0)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def short_urls_sim() -> Iterator[Proc]:
    """Output URLs valid for 24 h x 0.00002 (1.7 s); the assets themselves kept for 2000 s."""
    proc = start_simulator("--api-key", KEY, "--content-ttl", "100000000", profile="runway", time_scale=0.00002)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def runway(sim: Proc) -> AsyncIterator[RunwayUpstream]:
    adapter = RunwayUpstream(sim.url, KEY)
    yield adapter
    await adapter.close()


def spec(prompt: str = "a red kite over dunes", **kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": prompt, "model": "veo3.1_fast", "size": "1280x720"}
    return GenerationSpec(**{**fields, "seconds": 4, **kw})


async def fetch(method: str, url: str, **kw: Any) -> httpx.Response:
    """Plain HTTP from an async test (the simulator's /_sim routes, a raw Runway call, a CDN URL)."""
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kw)


async def until_done(adapter: RunwayUpstream, task_id: str) -> UpstreamVideo:
    for _ in range(400):
        video = await adapter.retrieve(task_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never finished")


# -- the literal bodies -------------------------------------------------------------------------------------------
async def test_create_bodies_are_the_documented_ones(runway: RunwayUpstream, tmp_path: Path) -> None:
    veo = spec("A lighthouse in a storm, waves crashing", model="veo3.1", size="1920x1080", seconds=8,
               negative_prompt="text, watermark")  # fmt: skip
    assert await runway.body(veo) == (
        "/v1/text_to_video",
        {"model": "veo3.1", "promptText": "A lighthouse in a storm, waves crashing", "ratio": "1920:1080",
         "duration": 8, "audio": True, "negativePrompt": "text, watermark"},
    )  # fmt: skip
    gen45 = spec("A golden retriever running through wildflowers at sunset", model="gen4.5", seconds=5)
    assert await runway.body(gen45) == (
        "/v1/text_to_video",
        {"model": "gen4.5", "promptText": "A golden retriever running through wildflowers at sunset",
         "ratio": "1280:720", "duration": 5},
    )  # fmt: skip
    # the first part of a 12 s 720x1280 sora-2 request
    part = spec("a paper boat on a canal", size="720x1280", seconds=6, idempotency_key="vid_1-0-1")
    path, body = await runway.body(part)
    assert path == "/v1/text_to_video" and isinstance(body["duration"], int)
    assert json.dumps(body) == (
        '{"model": "veo3.1_fast", "promptText": "a paper boat on a canal", "ratio": "720:1280", "duration": 6, '
        '"audio": true}'
    )
    # gen4.5 takes no negativePrompt: it is said in the prompt; a seed goes where the model takes one
    _, folded = await runway.body(spec("a fox", model="gen4.5", seconds=5, negative_prompt="snow.", seed=42))
    assert folded == {"model": "gen4.5", "promptText": "a fox\n\nAvoid: snow.", "ratio": "1280:720", "duration": 5,
                      "seed": 42}  # fmt: skip
    # image to video: an upload as a data URI, an HTTPS URL as it is
    frame = tmp_path / "first.png"
    render_video(tmp_path / "v.mp4", [Segment("x", 1)], 64, 36, fps=2)
    write_png(last_frame(tmp_path / "v.mp4"), frame)
    path, body = await runway.body(spec(reference=Reference(path=str(frame), content_type="image/png")))
    assert path == "/v1/image_to_video" and list(body) == ["model", "promptImage", "promptText", "ratio", "duration",
                                                           "audio"]  # fmt: skip
    assert body["promptImage"].startswith("data:image/png;base64,iVBORw0KGgo")
    _, body = await runway.body(spec(reference=Reference(image_url="https://example.com/first.jpg")))
    assert body["promptImage"] == "https://example.com/first.jpg"


async def test_what_runway_would_refuse_is_refused_before_sending(runway: RunwayUpstream, sim: Proc) -> None:
    before = calls(sim, "runway_text_to_video") + calls(sim, "runway_image_to_video")
    cases = [
        (spec(kind="remix", source_id="x"), "unsupported_by_upstream", None),
        (spec("x" * 1001), "invalid_value", "prompt"),
        (spec(reference=Reference(image_url="http://example.com/a.png")), "invalid_value", "input_reference"),
    ]
    for bad, code, param in cases:
        with pytest.raises(UpstreamError) as err:
            await runway.create(bad)
        assert (err.value.status, err.value.code, err.value.param) == (400, code, param)
    assert calls(sim, "runway_text_to_video") + calls(sim, "runway_image_to_video") == before


# -- create, poll, download -----------------------------------------------------------------------------------------
async def test_create_poll_and_download_a_real_video(runway: RunwayUpstream, sim: Proc, tmp_path: Path) -> None:
    created = await runway.create(spec(size="720x1280", seconds=6))
    assert created.status == "queued" and created.poll_after_ms == 5000  # Runway: no faster than every 5 s
    done = await until_done(runway, created.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert done.content_ids["video"].startswith(sim.url + "/cdn/")
    stream = await runway.open_content(created.id, "video")
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    info = probe_video(mp4)
    assert (info["width"], info["height"]) == (720, 1280) and abs(probe_duration(mp4) - 6.0) < 0.01
    with pytest.raises(UpstreamError) as err:
        await runway.open_content(created.id, "thumbnail")
    assert err.value.status == 404
    assert runway.lists is False  # no listing: a lost create is never looked for, so never re-sent blind
    with pytest.raises(UpstreamError) as err:
        await runway.list_page()
    assert err.value.status == 405


async def test_list_models_is_a_free_authenticated_read(runway: RunwayUpstream, sim: Proc) -> None:
    before, generations = calls(sim, "runway_organization"), sim_stats(sim)["generations"]
    models = [m["id"] for m in await runway.list_models()]
    assert models == ["veo3.1_fast", "veo3.1", "veo3", "gen4.5"]
    assert calls(sim, "runway_organization") == before + 1 and sim_stats(sim)["generations"] == generations
    wrong = RunwayUpstream(sim.url + "/v1", "key_" + "f" * 128)  # a configured …/v1 works too
    try:
        with pytest.raises(UpstreamError) as err:
            await wrong.list_models()
        assert (err.value.status, err.value.code) == (401, "invalid_api_key")
        with pytest.raises(UpstreamError) as err:
            await wrong.create(spec())
        assert err.value.status == 401 and "not valid" in err.value.message and KEY not in err.value.message
    finally:
        await wrong.close()


def test_auth_and_version_header_are_refused_the_runway_way(sim: Proc) -> None:
    body = {"model": "veo3.1_fast", "promptText": "a kite", "ratio": "1280:720", "duration": 4}
    answers = [
        httpx.post(sim.url + "/v1/text_to_video", json=body, headers={"X-Runway-Version": "2024-11-06"}),
        httpx.post(sim.url + "/v1/text_to_video", json=body, headers={**VERSION, "Authorization": "Bearer key_x"}),
        httpx.post(sim.url + "/v1/text_to_video", json=body, headers={"Authorization": VERSION["Authorization"]}),
        httpx.post(sim.url + "/v1/text_to_video", json=body, headers={**VERSION, "X-Runway-Version": "2024-09-13"}),
        httpx.get(sim.url + "/v1/tasks/3086d332-1963-4c9d-8103-0f90efa72e20", headers=VERSION),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [
        (401, {"error": "The provided API key is not valid."}),
        (401, {"error": "The provided API key is not valid."}),
        (400, {"error": "Invalid API Version"}),
        (400, {"error": "Invalid API Version"}),
        (404, {"error": "Task with id '3086d332-1963-4c9d-8103-0f90efa72e20' not found."}),
    ]


GOOD_T2V = {"model": "gen4.5", "promptText": "a kite", "ratio": "1280:720", "duration": 5}


@pytest.mark.parametrize(
    ("path", "change", "field", "code"),
    [
        ("/v1/text_to_video", {"duration": "5"}, "duration", "invalid_type"),  # a string "5" is not the integer 5
        ("/v1/text_to_video", {"duration": 5.5}, "duration", "invalid_type"),
        ("/v1/text_to_video", {"duration": 11}, "duration", "too_big"),
        ("/v1/text_to_video", {"model": "veo3.1_fast", "duration": 5}, "duration", "invalid_value"),
        ("/v1/text_to_video", {"ratio": "16:9"}, "ratio", "invalid_value"),
        ("/v1/text_to_video", {"ratio": 1280}, "ratio", "invalid_value"),
        ("/v1/text_to_video", {"promptText": 7}, "promptText", "invalid_type"),
        ("/v1/text_to_video", {"promptText": "x" * 1001}, "promptText", "too_big"),
        ("/v1/text_to_video", {"seed": "42"}, "seed", "invalid_type"),
        ("/v1/text_to_video", {"model": "veo3.1", "duration": 8, "audio": "true"}, "audio", "invalid_type"),
        (
            "/v1/text_to_video",
            {"model": "veo3.1", "duration": 8, "negativePrompt": 1},
            "negativePrompt",
            "invalid_type",
        ),
        ("/v1/text_to_video", {"negative_prompt": "rain"}, None, "unrecognized_keys"),
        ("/v1/text_to_video", {"model": "gen4_turbo"}, "model", "invalid_union"),  # image to video only
        ("/v1/image_to_video", {"promptImage": 5}, "promptImage", "invalid_type"),
        ("/v1/image_to_video", {"promptImage": "http://example.com/a.png"}, "promptImage", "custom"),
        ("/v1/image_to_video", {"promptImage": "data:image/gif;base64,R0lGOD=="}, "promptImage", "custom"),
    ],
)
async def test_each_field_wire_type_is_checked(
    runway: RunwayUpstream, path: str, change: dict[str, Any], field: str | None, code: str
) -> None:
    body = {**GOOD_T2V, **({"promptImage": "https://example.com/a.png"} if "image" in path else {}), **change}
    raw = await runway.http.client.post(path, json=body)
    assert raw.status_code == 400, raw.text
    data = raw.json()
    assert data["error"] == "Validation of body failed" and data["docUrl"] == "https://docs.dev.runwayml.com/api"
    assert [(i["code"], i["path"][:1]) for i in data["issues"]] == [(code, [field] if field else [])]
    mapped = read_error(raw)  # what the dialect makes of it
    names = FIELDS
    assert (mapped.status, mapped.code) == (400, "invalid_value") and mapped.message.startswith("Runway: Validation")
    assert mapped.param == (names.get(field, field) if field else None)


# -- failures, moderation, limits -------------------------------------------------------------------------------------
async def test_moderation_fails_the_task_and_maps_to_moderation_blocked(runway: RunwayUpstream, sim: Proc) -> None:
    generations = sim_stats(sim)["generations"]
    refused_in = await until_done(runway, (await runway.create(spec("a forbidden ritual"))).id)
    refused_out = await until_done(runway, (await runway.create(spec("a gore fest"))).id)
    assert refused_in.status == refused_out.status == "failed"
    assert refused_in.error is not None and refused_in.error["code"] == "moderation_blocked"
    assert "SAFETY.INPUT.TEXT" in refused_in.error["message"] and "moderation" in refused_in.error["message"]
    assert refused_out.error is not None and refused_out.error["code"] == "moderation_blocked"
    assert "SAFETY.OUTPUT.VIDEO" in refused_out.error["message"]
    assert sim_stats(sim)["generations"] == generations + 2  # accepted, then failed (Runway moderates tasks)
    await fetch("POST", sim.url + "/_sim/faults", json={"faults": "fail=1"})
    try:
        broken = await until_done(runway, (await runway.create(spec("a calm lake"))).id)
    finally:
        await fetch("POST", sim.url + "/_sim/faults", json={"faults": ""})
    assert broken.error is not None and broken.error["code"] == "video_generation_failed"  # retried by the driver
    assert "INTERNAL.BAD_OUTPUT.CODE01" in broken.error["message"]


def test_failure_codes_and_refusals_map_to_the_gateway_words() -> None:
    def failed(code: str | None) -> dict[str, Any] | None:
        task = {"id": "t", "status": "FAILED", "failure": "Blocked.", **({"failureCode": code} if code else {})}
        return parse_task(task).error

    assert failed("INPUT_PREPROCESSING.SAFETY.THIRD_PARTY") == {
        "code": "moderation_blocked",
        "message": "Runway: Blocked. (INPUT_PREPROCESSING.SAFETY.THIRD_PARTY)",
    }
    assert [failed(c)["code"] for c in ("SAFETY.INPUT.IMAGE", "ASSET.INVALID", "INTERNAL", None)] == [  # type: ignore[index]
        "moderation_blocked", "invalid_value", "video_generation_failed", "video_generation_failed",
    ]  # fmt: skip
    running = parse_task({"id": "t", "createdAt": "2026-08-11T06:12:01.171Z", "status": "RUNNING", "progress": 0.45})
    assert (running.status, running.progress, running.created_at) == ("in_progress", 45, 1786428721.171)
    assert parse_task({"id": "t", "status": "THROTTLED"}).status == "queued"
    assert parse_task({"id": "t", "status": "CANCELLED"}).error == {
        "code": "cancelled", "message": "The Runway task was cancelled."
    }  # fmt: skip
    request = httpx.Request("POST", "https://api.dev.runwayml.com/v1/text_to_video")
    broke = read_error(httpx.Response(400, json={"error": "You do not have enough credits to run this task."},
                                      request=request))  # fmt: skip
    assert (broke.status, broke.code) == (429, "quota_exhausted")  # another upstream may serve it
    busy = read_error(httpx.Response(503, text="<html>", request=request))
    assert busy.status == 503 and busy.retryable


async def test_concurrency_throttles_and_the_daily_limit_is_a_429(slow_sim: Proc) -> None:
    adapter = RunwayUpstream(slow_sim.url, KEY)
    try:
        first = await adapter.create(spec(model="veo3.1"))
        second = await adapter.create(spec(model="veo3.1"))  # over the concurrency: accepted, THROTTLED
        raw = (await fetch("GET", f"{slow_sim.url}/v1/tasks/{second.id}", headers=VERSION)).json()
        assert raw["status"] == "THROTTLED" and set(raw) == {"id", "createdAt", "status"}
        assert (await adapter.retrieve(second.id)).status == "queued"
        generations = sim_stats(slow_sim)["generations"]
        with pytest.raises(UpstreamError) as err:  # a third veo3.1 task today: Runway's daily limit
            await adapter.create(spec(model="veo3.1"))
        assert (err.value.status, err.value.code) == (429, "quota_exhausted") and err.value.retryable
        assert "daily" in err.value.message and sim_stats(slow_sim)["generations"] == generations
        other = await adapter.create(spec(model="veo3", seconds=8))  # limits are per model
        assert (await adapter.retrieve(other.id)).status == "queued"
        for task in (first, second, other):  # cancelled while active
            await adapter.delete(task.id)
        cancelled = await adapter.retrieve(second.id)
        assert cancelled.status == "failed" and cancelled.error == {
            "code": "cancelled", "message": "The Runway task was cancelled."
        }  # fmt: skip
    finally:
        await adapter.close()


async def test_output_urls_need_no_key_expire_and_are_re_signed(short_urls_sim: Proc, tmp_path: Path) -> None:
    adapter = RunwayUpstream(short_urls_sim.url, KEY)
    try:
        done = await until_done(adapter, (await adapter.create(spec(seconds=4))).id)
        url = done.content_ids["video"]
        assert "_jwt=" in url and KEY not in url
        with_key = await fetch("GET", url, headers={"Authorization": f"Bearer {KEY}"})
        assert with_key.status_code == 400  # the CDN refuses a second auth mechanism: the key is never sent there
        await asyncio.sleep(2.0)  # the URL was signed for 24 h x 0.00002 = 1.7 s
        assert (await fetch("GET", url)).status_code == 403
        cdn, tasks = calls(short_urls_sim, "runway_cdn"), calls(short_urls_sim, "runway_task")
        stream = await adapter.open_content(done.id, "video")  # the remembered URL is refused: one fresh GET
        mp4 = tmp_path / "v.mp4"
        mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
        await stream.close()
        assert abs(probe_duration(mp4) - 4.0) < 0.01 and probe_video(mp4)["width"] == 1280
        assert calls(short_urls_sim, "runway_cdn") == cdn + 2 and calls(short_urls_sim, "runway_task") == tasks + 1
        await adapter.delete(done.id)  # a finished task is deleted: its output is gone
        with pytest.raises(UpstreamError) as err:
            await adapter.open_content(done.id, "video")
        assert err.value.status == 404
    finally:
        await adapter.close()
