"""The Luma dialect against the simulated Luma Agents API (real simulator processes, plain HTTP, PyAV).

Literal request bodies are compared with the spec's examples (/work/notes/providers/luma.md §3.4, taken from
docs.agents.lumalabs.ai/guides/videos/generation/), so a dialect drifting from the docs fails here.
"""

from __future__ import annotations

import asyncio
import base64
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
from gateway.providers.luma.answers import parse_generation, read_error
from gateway.providers.luma.dialect import LumaUpstream, luma_base
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import calls, sim_stats
from tests.procs import Proc, start_simulator

KEY = "luma-api-" + "0123456789abcdef" * 4
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="luma", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Proc]:
    """Real-time generations (a minute each), one active at a time, two creates a minute."""
    proc = start_simulator("--api-key", KEY, "--max-concurrent", "1", "--rpm", "2", profile="luma", time_scale=1.0)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def short_urls_sim() -> Iterator[Proc]:
    """Output URLs valid for 1 h x 0.0005 (1.8 s); the assets themselves kept for 500 s."""
    proc = start_simulator("--api-key", KEY, "--content-ttl", "1000000", profile="luma", time_scale=0.0005)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def luma(sim: Proc) -> AsyncIterator[LumaUpstream]:
    adapter = LumaUpstream(sim.url + "/v1", KEY)
    yield adapter
    await adapter.close()


def spec(prompt: str = "a red kite over dunes", **kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": prompt, "model": "ray-3.2", "size": "1280x720"}
    return GenerationSpec(**{**fields, "seconds": 5, **kw})


async def fetch(method: str, url: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kw)


async def until_done(adapter: LumaUpstream, generation_id: str) -> UpstreamVideo:
    for _ in range(400):
        video = await adapter.retrieve(generation_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"generation {generation_id} never finished")


def png(tmp_path: Path) -> Path:
    frame = tmp_path / "first.png"
    render_video(tmp_path / "v.mp4", [Segment("x", 1)], 64, 36, fps=2)
    write_png(last_frame(tmp_path / "v.mp4"), frame)
    return frame


# -- the literal bodies -------------------------------------------------------------------------------------------
async def test_create_bodies_are_the_documented_ones(luma: LumaUpstream, tmp_path: Path) -> None:
    documented = spec("A slow dolly shot through a misty greenhouse at sunrise")
    assert await luma.body(documented) == {
        "model": "ray-3.2", "type": "video", "prompt": "A slow dolly shot through a misty greenhouse at sunrise",
        "aspect_ratio": "16:9", "video": {"resolution": "720p", "duration": "5s"},
    }  # fmt: skip
    anchored = spec(
        "The character turns to face the camera and smiles",
        reference=Reference(image_url="https://example.com/opening-frame.jpg"),
        last_frame=Reference(image_url="https://example.com/closing-frame.jpg"),
    )
    assert json.dumps(await luma.body(anchored)) == (
        '{"model": "ray-3.2", "type": "video", "prompt": "The character turns to face the camera and smiles", '
        '"aspect_ratio": "16:9", "video": {"resolution": "720p", "duration": "5s", '
        '"start_frame": {"url": "https://example.com/opening-frame.jpg"}, '
        '"end_frame": {"url": "https://example.com/closing-frame.jpg"}}}'
    )
    # the first part of a 12 s 720x1280 sora-2 request: the 720p tier is sent as Luma's one model
    part = spec("a paper boat on a canal", model="ray-3.2-720p", size="720x1280", idempotency_key="vid_1-0-1")
    assert json.dumps(await luma.body(part)) == (
        '{"model": "ray-3.2", "type": "video", "prompt": "a paper boat on a canal", "aspect_ratio": "9:16", '
        '"video": {"resolution": "720p", "duration": "5s"}}'
    )
    big = await luma.body(spec(size="1080x1920"))
    small = await luma.body(spec(size="960x540"))
    assert (big["aspect_ratio"], big["video"]["resolution"]) == ("9:16", "1080p")
    assert (small["aspect_ratio"], small["video"]["resolution"]) == ("16:9", "540p")
    # an upload (a chained part's first frame): bare base64 with its media type
    frame = png(tmp_path)
    body = await luma.body(spec(reference=Reference(path=str(frame), content_type="image/png")))
    start = body["video"]["start_frame"]
    assert list(start) == ["data", "media_type"] and start["media_type"] == "image/png"
    assert base64.b64decode(start["data"]) == frame.read_bytes()
    uri = "data:image/png;base64," + base64.b64encode(frame.read_bytes()).decode()
    unpacked = await luma.body(spec(last_frame=Reference(image_url=uri)))
    assert unpacked["video"]["end_frame"] == start


async def test_what_luma_would_refuse_is_refused_before_sending(luma: LumaUpstream, sim: Proc, tmp_path: Path) -> None:
    before = calls(sim, "luma_create")
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * 32)
    cases = [
        (spec(kind="extend", source_id="x"), "unsupported_by_upstream", None),
        (spec("x" * 6001), "invalid_value", "prompt"),
        (spec(size="1024x1024"), "invalid_value", "size"),
        (spec(reference=Reference(image_url="ftp://example.com/a.png")), "invalid_value", "input_reference"),
        (spec(reference=Reference(path=str(gif))), "invalid_value", "input_reference"),
        (spec(last_frame=Reference(image_url="data:image/png;base64,!!")), "invalid_value", "last_frame"),
    ]
    for bad, code, param in cases:
        with pytest.raises(UpstreamError) as err:
            await luma.create(bad)
        assert (err.value.status, err.value.code, err.value.param) == (400, code, param)
    assert calls(sim, "luma_create") == before


# -- create, poll, download -----------------------------------------------------------------------------------------
async def test_create_poll_and_download_a_real_video(luma: LumaUpstream, sim: Proc, tmp_path: Path) -> None:
    created = await luma.create(spec(size="720x1280", idempotency_key="vid_abc-0-1"))
    assert created.status == "queued" and created.poll_after_ms == 5000 and created.model == "ray-3.2"
    assert created.created_at is not None
    done = await until_done(luma, created.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    url = done.content_ids["video"]
    assert url.startswith(sim.url + "/luma-cdn/") and "X-Amz-Signature=" in url and KEY not in url
    stream = await luma.open_content(created.id, "video")
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    info = probe_video(mp4)
    assert (info["width"], info["height"]) == (720, 1280) and abs(probe_duration(mp4) - 5.0) < 0.01
    for variant in ("thumbnail", "spritesheet"):
        with pytest.raises(UpstreamError) as err:
            await luma.open_content(created.id, variant)
        assert err.value.status == 404
    assert luma.lists is False and luma.callbacks is False  # no listing, no callbacks: never re-sent blind
    with pytest.raises(UpstreamError) as err:
        await luma.list_page()
    assert err.value.status == 405
    await luma.delete(created.id)  # Luma has no delete: nothing is sent, the generation stays
    assert (await luma.retrieve(created.id)).status == "completed"


async def test_list_models_is_a_free_authenticated_read(luma: LumaUpstream, sim: Proc) -> None:
    before, generations = calls(sim, "luma_get"), sim_stats(sim)["generations"]
    assert [m["id"] for m in await luma.list_models()] == ["ray-3.2", "ray-3.2-720p"]
    assert calls(sim, "luma_get") == before + 1 and sim_stats(sim)["generations"] == generations
    wrong = LumaUpstream(sim.url + "/v1", "luma-api-wrong")
    try:
        with pytest.raises(UpstreamError) as err:
            await wrong.list_models()
        assert (err.value.status, err.value.code) == (401, "invalid_api_key")
        with pytest.raises(UpstreamError) as err:
            await wrong.create(spec())
        assert err.value.status == 401 and "Invalid API key" in err.value.message and KEY not in err.value.message
    finally:
        await wrong.close()
    assert luma_base("https://agents.lumalabs.ai") == "https://agents.lumalabs.ai/v1"
    assert luma_base("https://agents.lumalabs.ai/v1/") == "https://agents.lumalabs.ai/v1"


def test_auth_and_unknown_things_are_refused_the_luma_way(sim: Proc) -> None:
    body = {"model": "ray-3.2", "type": "video", "prompt": "a kite"}
    answers = [
        httpx.post(sim.url + "/v1/generations", json=body),
        httpx.post(sim.url + "/v1/generations", json=body, headers={"Authorization": "Bearer luma-api-x"}),
        httpx.post(sim.url + "/v1/generations", json=body, headers={"Authorization": KEY}),  # no "Bearer"
        httpx.get(sim.url + "/v1/generations/182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e", headers=AUTH),
        httpx.get(sim.url + "/v1/videos", headers=AUTH),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [
        (401, {"detail": "Invalid API key is provided"}),
        (401, {"detail": "Invalid API key is provided"}),
        (401, {"detail": "Invalid API key is provided"}),
        (404, {"detail": "Generation with id '182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e' not found."}),
        (404, {"detail": "Not Found"}),
    ]
    assert all(a.headers["x-api-version"] == "2026-04-01" for a in answers)
    created = httpx.post(sim.url + "/v1/generations", json=body, headers=AUTH)
    assert created.status_code == 201 and created.headers["x-api-version"] == "2026-04-01"
    assert set(created.json()) == {"id", "created_at", "model", "state", "type"}
    assert created.json()["state"] == "queued" and created.json()["created_at"].endswith("Z")


GOOD = {"model": "ray-3.2", "type": "video", "prompt": "a kite", "aspect_ratio": "16:9",
        "video": {"resolution": "720p", "duration": "5s"}}  # fmt: skip
FRAME = {"data": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode(), "media_type": "image/png"}


@pytest.mark.parametrize(
    ("change", "video", "status", "fragment"),
    [
        ({}, {"duration": 5}, 400, "video.duration: expected a string, got a number"),
        ({}, {"duration": "5"}, 400, "video.duration: must be one of 5s, 10s"),
        ({}, {"resolution": "4k"}, 400, "video.resolution: must be one of"),
        ({}, {"resolution": 720}, 400, "video.resolution: expected a string"),
        ({"aspect_ratio": "2:1"}, {}, 400, "aspect_ratio: 2:1 is not offered"),
        ({"aspect_ratio": 1.77}, {}, 400, "aspect_ratio: expected a string"),
        ({"prompt": 7}, {}, 400, "prompt: expected a string, got a number"),
        ({"prompt": "x" * 6001}, {}, 400, "prompt: must be 1 to 6000"),
        ({}, {"loop": "true"}, 400, "video.loop: expected a boolean"),
        ({"negative_prompt": "rain"}, {}, 400, "body: unknown field negative_prompt"),
        ({"seed": 42}, {}, 400, "body: unknown field seed"),
        ({"model": "uni-1"}, {}, 400, "model: uni-1 does not make videos"),
        ({"type": 5}, {}, 400, "type: expected a string, got a number"),
        ({"type": "image"}, {}, 400, "type: only 'video' is simulated"),
        ({"video": "5s"}, {}, 400, "video: expected an object, got a string"),
        ({}, {"start_frame": {"data": FRAME["data"]}}, 400, "video.start_frame.media_type: required"),
        ({}, {"start_frame": "https://example.com/a.png"}, 400, "video.start_frame: expected an object"),
        ({}, {"end_frame": {"url": "https://e.com/a.png", "data": "x"}}, 400, "exactly one of"),
        ({}, {"start_frame": {"data": "%%%", "media_type": "image/png"}}, 422, "invalid base64"),
        ({}, {"duration": "10s", "start_frame": FRAME}, 422, "duration=10s is text to video only"),
        ({}, {"duration": "10s", "loop": True}, 422, "duration=10s is text to video only"),
        ({}, {"resolution": "540p", "hdr": True}, 422, "hdr is not available at 540p"),
        ({}, {"exr_export": True}, 422, "exr_export requires hdr=true"),
    ],
)
async def test_each_field_wire_type_is_checked(
    luma: LumaUpstream, change: dict[str, Any], video: dict[str, Any], status: int, fragment: str
) -> None:
    body = {**GOOD, **change}
    if video:
        body["video"] = {**GOOD["video"], **video}  # type: ignore[dict-item]
    raw = await luma.http.client.post("/generations", json=body)
    assert raw.status_code == status, raw.text
    assert set(raw.json()) == {"detail"} and fragment in raw.json()["detail"]
    mapped = read_error(raw)  # what the dialect makes of it
    assert (mapped.status, mapped.code) == (400, "invalid_value") and mapped.message == "Luma: " + raw.json()["detail"]


async def test_what_each_field_takes_is_accepted(luma: LumaUpstream, sim: Proc) -> None:
    """The other documented values: 10 s text to video, 21:9 (rendered at its own pixels), loop, HDR, a URL frame."""
    bodies = [
        {**GOOD, "video": {"resolution": "1080p", "duration": "10s"}},
        {**GOOD, "aspect_ratio": "21:9", "video": {"resolution": "540p", "loop": True}},
        {**GOOD, "aspect_ratio": None, "video": {"hdr": True, "exr_export": True}, "user_id": "u-1"},
        {**GOOD, "video": {"start_frame": {"url": "https://example.com/a.jpg"}, "end_frame": FRAME}},
        {"model": "ray-3.2", "type": "video", "prompt": "defaults"},
    ]
    for body in bodies:
        raw = await luma.http.client.post("/generations", json=body)
        assert raw.status_code == 201, raw.text
    done = await until_done(luma, raw.json()["id"])
    extend = {**GOOD, "video": {"start_frame": {"generation_id": done.id}}}
    assert (await luma.http.client.post("/generations", json=extend)).status_code == 201
    unknown = {**GOOD, "video": {"start_frame": {"generation_id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"}}}
    assert (await luma.http.client.post("/generations", json=unknown)).status_code == 422


# -- failures, moderation, limits -------------------------------------------------------------------------------------
async def test_moderation_fails_the_generation_and_maps_to_moderation_blocked(luma: LumaUpstream, sim: Proc) -> None:
    generations = sim_stats(sim)["generations"]
    refused_in = await until_done(luma, (await luma.create(spec("a forbidden ritual"))).id)
    refused_out = await until_done(luma, (await luma.create(spec("a gore fest"))).id)
    assert refused_in.status == refused_out.status == "failed"
    assert refused_in.error == {
        "code": "moderation_blocked", "message": "Luma: Prompt violated content guidelines (content_moderated)"
    }  # fmt: skip
    assert refused_out.error is not None and refused_out.error["code"] == "moderation_blocked"
    assert sim_stats(sim)["generations"] == generations + 2  # accepted, then failed (Luma moderates generations)
    await fetch("POST", sim.url + "/_sim/faults", json={"faults": "fail=1"})
    try:
        broken = await until_done(luma, (await luma.create(spec("a calm lake"))).id)
    finally:
        await fetch("POST", sim.url + "/_sim/faults", json={"faults": ""})
    assert broken.error == {
        "code": "video_generation_failed",
        "message": "Luma: Internal model error (generation_failed)",
    }


def test_failure_codes_and_refusals_map_to_the_gateway_words() -> None:
    def failed(code: str | None) -> str:
        data = {"id": "g", "state": "failed", "failure_reason": "x", **({"failure_code": code} if code else {})}
        error = parse_generation(data).error
        assert error is not None
        return error["code"]

    codes = ("content_moderated", "corrupt_input", "image_too_large", "budget_exhausted", "generation_failed",
             "output_not_found", "rate_limited", None)  # fmt: skip
    assert [failed(c) for c in codes] == [
        "moderation_blocked", "invalid_value", "invalid_value", "quota_exhausted", "video_generation_failed",
        "video_generation_failed", "video_generation_failed", "video_generation_failed",
    ]  # fmt: skip
    processing = parse_generation({"id": "g", "created_at": "2026-06-10T08:39:38.802Z", "state": "processing"})
    assert (processing.status, processing.progress, processing.created_at) == ("in_progress", 0, 1781080778.802)
    empty = parse_generation({"id": "g", "state": "completed", "output": [{"type": "image", "url": "https://x"}]})
    assert empty.status == "failed" and empty.error is not None and empty.error["code"] == "video_generation_failed"
    request = httpx.Request("POST", "https://agents.lumalabs.ai/v1/generations")

    def answer(status: int, body: Any = None, **headers: str) -> UpstreamError:
        return read_error(httpx.Response(status, json=body, headers=headers, request=request))

    broke = answer(402, {"detail": "Insufficient balance"})
    assert (broke.status, broke.code, broke.message) == (429, "quota_exhausted", "Luma: Insufficient balance")
    busy = answer(429, {"detail": "Rate limit exceeded"}, **{"Retry-After": "7"})
    assert (busy.status, busy.code, busy.retry_after) == (429, "rate_limited", 7.0)
    listed = answer(422, {"detail": [{"loc": ["body", "video", "duration"], "msg": "bad", "type": "enum"}]})
    assert (listed.status, listed.param, listed.message) == (400, "seconds", "Luma: video.duration: bad")
    large = answer(413, {"detail": "Input media exceeds size limit"})
    assert (large.status, large.param) == (400, "input_reference")
    suspended = answer(403, {"detail": "Access denied"})
    assert suspended.status == 403 and not suspended.client_fault  # counted as "made nothing"
    gateway_down = read_error(httpx.Response(502, text="<html>", request=request))
    assert (
        gateway_down.status == 502 and gateway_down.retryable and gateway_down.message == "Luma: Luma answered HTTP 502"
    )


async def test_rate_and_concurrency_limits_are_429s(slow_sim: Proc) -> None:
    adapter = LumaUpstream(slow_sim.url + "/v1", KEY)
    try:
        first = await adapter.create(spec())
        raw = await adapter.http.client.post("/generations", json=GOOD)  # a second active one: over concurrency
        assert (raw.status_code, raw.json()) == (429, {"detail": "Too many concurrent generations"})
        assert int(raw.headers["retry-after"]) >= 1
        generations = sim_stats(slow_sim)["generations"]
        with pytest.raises(UpstreamError) as err:  # a third create this minute: over the RPM
            await adapter.create(spec())
        assert (err.value.status, err.value.code) == (429, "rate_limited") and err.value.retryable
        assert err.value.message == "Luma: Rate limit exceeded" and err.value.retry_after is not None
        assert sim_stats(slow_sim)["generations"] == generations
        assert (await adapter.retrieve(first.id)).status == "queued"  # GETs are not rate limited
        await fetch("POST", slow_sim.url + "/_sim/reset")
        await fetch("POST", slow_sim.url + "/_sim/faults", json={"faults": "429=1"})
        try:
            with pytest.raises(UpstreamError) as err:
                await adapter.create(spec())
        finally:
            await fetch("POST", slow_sim.url + "/_sim/faults", json={"faults": ""})
        assert (err.value.status, err.value.code, err.value.retry_after) == (429, "rate_limited", 1.0)
    finally:
        await adapter.close()


async def test_output_urls_need_no_key_expire_and_are_re_signed(short_urls_sim: Proc, tmp_path: Path) -> None:
    adapter = LumaUpstream(short_urls_sim.url + "/v1", KEY)
    try:
        done = await until_done(adapter, (await adapter.create(spec())).id)
        url = done.content_ids["video"]
        with_key = await fetch("GET", url, headers={"Authorization": f"Bearer {KEY}"})
        assert with_key.status_code == 400  # storage refuses a second auth mechanism: the key is never sent there
        await asyncio.sleep(2.0)  # the URL was signed for 1 h x 0.0005 = 1.8 s
        assert (await fetch("GET", url)).status_code == 403
        cdn, gets = calls(short_urls_sim, "luma_cdn"), calls(short_urls_sim, "luma_get")
        stream = await adapter.open_content(done.id, "video")  # the remembered URL is refused: one fresh GET
        mp4 = tmp_path / "v.mp4"
        mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
        await stream.close()
        assert abs(probe_duration(mp4) - 5.0) < 0.01 and probe_video(mp4)["width"] == 1280
        assert calls(short_urls_sim, "luma_cdn") == cdn + 2 and calls(short_urls_sim, "luma_get") == gets + 1
        await fetch("POST", f"{short_urls_sim.url}/_sim/expire/{done.id}")  # the asset itself is gone
        with pytest.raises(UpstreamError) as err:
            await adapter.open_content(done.id, "video")
        assert (err.value.status, err.value.code) == (404, "content_expired")
    finally:
        await adapter.close()
