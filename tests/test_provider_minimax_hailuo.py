"""The MiniMax Hailuo dialect against the simulated MiniMax API (real simulator processes, plain HTTP, PyAV).

Literal request bodies follow MiniMax's API reference (video-generation-t2v / -i2v, query, files/retrieve), so a
dialect drifting from the docs fails here.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
from gateway.providers.minimax_hailuo.answers import created_task, parse_task, read_error, refusal
from gateway.providers.minimax_hailuo.dialect import CREATE_PATH, MiniMaxHailuoUpstream
from gateway.providers.minimax_hailuo.wire import create_body
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import calls, sim_stats
from tests.procs import Proc, start_simulator

KEY = "sk-api-" + "Mm0123456789abcd" * 3
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="minimax-hailuo", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Proc]:
    """Real-time tasks, one create a minute."""
    proc = start_simulator("--api-key", KEY, "--rpm", "1", profile="minimax-hailuo", time_scale=1.0)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def mm(sim: Proc) -> AsyncIterator[MiniMaxHailuoUpstream]:
    adapter = MiniMaxHailuoUpstream(sim.url, KEY)
    yield adapter
    await adapter.close()


def spec(prompt: str = "a red kite over dunes", **kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": prompt, "model": "MiniMax-Hailuo-2.3", "size": "1366x768"}
    return GenerationSpec(**{**fields, "seconds": 6, **kw})


def frame_png(tmp_path: Path, width: int, height: int) -> Reference:
    """A real last frame (a PNG the size of the video), as the gateway chains segments with."""
    render_video(tmp_path / f"v{width}x{height}.mp4", [Segment("x", 1)], width, height, fps=2)
    path = tmp_path / f"frame{width}x{height}.png"
    write_png(last_frame(tmp_path / f"v{width}x{height}.mp4"), path)
    return Reference(filename=path.name, content_type="image/png", path=str(path))


async def fetch(method: str, url: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kw)


async def query(sim: Proc, task_id: str) -> dict[str, Any]:
    answer = await fetch("GET", f"{sim.url}/v1/query/video_generation", params={"task_id": task_id}, headers=AUTH)
    return dict(answer.json())


async def until_done(adapter: MiniMaxHailuoUpstream, task_id: str) -> UpstreamVideo:
    for _ in range(600):
        video = await adapter.retrieve(task_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never finished")


async def download(adapter: MiniMaxHailuoUpstream, task_id: str, path: Path) -> tuple[int, int, float]:
    stream = await adapter.open_content(task_id, "video")
    path.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    info = probe_video(path)
    return int(info["width"]), int(info["height"]), probe_duration(path)


# -- the literal bodies -------------------------------------------------------------------------------------------
async def test_create_bodies_are_the_documented_ones(tmp_path: Path) -> None:
    body = await create_body(spec("A man picks up a book [Pedestal up]", size="1920x1080"))
    assert json.dumps(body) == (
        '{"model": "MiniMax-Hailuo-2.3", "prompt": "A man picks up a book [Pedestal up]", "duration": 6, '
        '"resolution": "1080P", "prompt_optimizer": false, "aigc_watermark": false}'
    )
    # the sora-2 tier: text goes to 2.3 at 768P; a part with an image to 2.3-Fast; enhance_prompt -> the optimizer
    tier = await create_body(spec(model="MiniMax-Hailuo-2.3-768P", seconds=10, enhance_prompt=True))
    assert (tier["model"], tier["resolution"], tier["duration"], tier["prompt_optimizer"]) == (
        "MiniMax-Hailuo-2.3", "768P", 10, True
    )  # fmt: skip
    frame = frame_png(tmp_path, 640, 360)
    chained = await create_body(spec(model="MiniMax-Hailuo-2.3-768P", reference=frame, callback_url="https://g/cb/x"))
    assert chained["model"] == "MiniMax-Hailuo-2.3-Fast" and chained["callback_url"] == "https://g/cb/x"
    assert chained["first_frame_image"].startswith("data:image/png;base64,iVBORw0KGgo")
    url = Reference(image_url="https://example.com/first.jpg")
    both = await create_body(spec(model="MiniMax-Hailuo-02", reference=url, last_frame=url))
    assert both["first_frame_image"] == both["last_frame_image"] == "https://example.com/first.jpg"
    assert list(both) == ["model", "prompt", "duration", "resolution", "prompt_optimizer", "aigc_watermark",
                          "first_frame_image", "last_frame_image"]  # fmt: skip


async def test_what_minimax_would_refuse_is_refused_before_sending(mm: MiniMaxHailuoUpstream, sim: Proc) -> None:
    before = calls(sim, "mm_create")
    url = Reference(image_url="https://example.com/a.png")
    cases = [
        (spec(kind="remix", source_id="x"), "unsupported_by_upstream", None),
        (spec(size="1920x1080", seconds=10), "invalid_value", "seconds"),  # 1080P is 6 s only
        (spec(model="MiniMax-Hailuo-2.3-768P", size="1920x1080"), "invalid_value", "size"),  # the tier is 768P
        (spec(size="1280x720"), "invalid_value", "size"),
        (spec(model="MiniMax-Hailuo-2.3-Fast"), "unsupported_by_upstream", None),  # image to video only
        (spec(reference=url, last_frame=url), "unsupported_by_upstream", None),  # 2.3 takes no last frame
        (spec(reference=Reference(image_url="ftp://example.com/a.png")), "invalid_value", "input_reference"),
    ]
    for bad, code, param in cases:
        with pytest.raises(UpstreamError) as err:
            await mm.create(bad)
        assert (err.value.status, err.value.code, err.value.param) == (400, code, param)
    assert calls(sim, "mm_create") == before


# -- create, poll, download -----------------------------------------------------------------------------------------
async def test_create_poll_and_download_a_real_video(mm: MiniMaxHailuoUpstream, sim: Proc, tmp_path: Path) -> None:
    created = await mm.create(spec(seconds=10))
    assert created.status == "queued" and created.poll_after_ms == 10_000 and created.id.isdigit()
    raw = await query(sim, created.id)
    assert raw["status"] in ("Preparing", "Queueing", "Processing", "Success") and raw["base_resp"]["status_code"] == 0
    done = await until_done(mm, created.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    final = await query(sim, created.id)
    assert (final["video_width"], final["video_height"]) == (1366, 768) and done.content_ids == {
        "video": final["file_id"]
    }  # fmt: skip
    cdn, files = calls(sim, "mm_cdn"), calls(sim, "mm_file")
    assert await download(mm, created.id, tmp_path / "v.mp4") == (1366, 768, pytest.approx(10.0, abs=0.01))
    assert calls(sim, "mm_file") == files + 1 and calls(sim, "mm_cdn") == cdn + 1  # file_id -> download_url -> file
    assert calls(sim, "mm_cdn_with_auth") == 0  # the key never went to the file host
    with pytest.raises(UpstreamError) as err:
        await mm.open_content(created.id, "thumbnail")
    assert err.value.status == 404
    assert mm.lists is False and mm.callbacks is True
    with pytest.raises(UpstreamError) as err:  # no listing: a lost create is never matched, never re-sent blind
        await mm.list_page()
    assert err.value.status == 405


async def test_an_image_part_keeps_its_aspect_and_goes_to_the_fast_model(
    mm: MiniMaxHailuoUpstream, sim: Proc, tmp_path: Path
) -> None:
    i2v = calls(sim, "mm_create_i2v")
    landscape = await mm.create(spec(model="MiniMax-Hailuo-2.3-768P", reference=frame_png(tmp_path, 640, 360)))
    portrait = await mm.create(spec(reference=frame_png(tmp_path, 360, 640), size="1920x1080"))
    assert (landscape.model, portrait.model) == ("MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-2.3")
    for created, size in ((landscape, (1366, 768)), (portrait, (1080, 1920))):
        assert (await until_done(mm, created.id)).status == "completed"
        assert await download(mm, created.id, tmp_path / f"{created.id}.mp4") == (*size, pytest.approx(6.0, abs=0.01))
    assert calls(sim, "mm_create_i2v") == i2v + 2


async def test_list_models_is_a_free_authenticated_read(mm: MiniMaxHailuoUpstream, sim: Proc) -> None:
    before, generations = calls(sim, "mm_files_list"), sim_stats(sim)["generations"]
    models = [m["id"] for m in await mm.list_models()]
    assert models[:4] == ["MiniMax-H3-768P", "MiniMax-H3-2K", "MiniMax-H3", "MiniMax-Hailuo-2.3-768P"]
    assert calls(sim, "mm_files_list") == before + 1 and sim_stats(sim)["generations"] == generations
    wrong = MiniMaxHailuoUpstream(sim.url + "/v1", "sk-api-wrong")  # a configured …/v1 works too
    try:
        with pytest.raises(UpstreamError) as err:
            await wrong.list_models()
        assert (err.value.status, err.value.code) == (401, "invalid_api_key")
        with pytest.raises(UpstreamError) as err:
            await wrong.create(spec())
        assert err.value.message == "MiniMax 2049: invalid api key" and "sk-api-wrong" not in err.value.message
    finally:
        await wrong.close()


def test_refusals_are_http_200_with_base_resp(sim: Proc) -> None:
    body = {"model": "MiniMax-Hailuo-2.3", "prompt": "a kite"}
    answers = [
        httpx.post(sim.url + CREATE_PATH, json=body),
        httpx.post(sim.url + CREATE_PATH, json=body, headers={"Authorization": "Bearer sk-wrong"}),
        httpx.get(sim.url + "/v1/query/video_generation", params={"task_id": "106916112212032"}, headers=AUTH),
    ]
    assert [(a.status_code, a.json()["base_resp"]["status_code"]) for a in answers] == [(200, 1004), (200, 2049),
                                                                                      (200, 2013)]  # fmt: skip
    assert answers[0].json()["base_resp"]["status_msg"].startswith("login fail")
    assert httpx.get(sim.url + "/v1/nothing", headers=AUTH).status_code == 404


GOOD = {"model": "MiniMax-Hailuo-2.3", "prompt": "a kite", "duration": 6, "resolution": "768P"}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"duration": "6"}, "duration"),  # a string "6" is not the integer 6
        ({"duration": 6.0}, "duration"),
        ({"duration": 8}, "duration 8"),
        ({"resolution": "1080P", "duration": 10}, "duration 10"),  # 1080P: 6 s only
        ({"resolution": "768p"}, "resolution"),  # uppercase only
        ({"resolution": "512P"}, "resolution"),  # 2.3 makes no 512P (02 does, from an image)
        ({"prompt_optimizer": "false"}, "prompt_optimizer"),
        ({"aigc_watermark": 0}, "aigc_watermark"),
        ({"model": "MiniMax-Hailuo-2.3-Fast"}, "first_frame_image"),  # image to video only
        ({"last_frame_image": "https://e.com/a.png"}, "last_frame_image"),  # 2.3 takes none
        ({"first_frame_image": "data:image/gif;base64,R0lGOD=="}, "first_frame_image"),
        ({"callback_url": "ftp://x"}, "callback_url"),
        ({"aspect_ratio": "9:16"}, "aspect_ratio"),  # v1 has no ratio
        ({"prompt": "x" * 2001}, "2000"),
        ({"model": "MiniMax-Hailuo-9"}, "MiniMax-Hailuo-9"),
    ],
)
async def test_each_field_wire_type_is_checked(
    mm: MiniMaxHailuoUpstream, sim: Proc, change: dict[str, Any], fragment: str
) -> None:
    generations = sim_stats(sim)["generations"]
    raw = await mm.http.client.post(CREATE_PATH, json={**GOOD, **change})
    assert raw.status_code == 200, raw.text
    envelope = raw.json()["base_resp"]
    assert envelope["status_code"] == 2013 and fragment in envelope["status_msg"]
    with pytest.raises(UpstreamError) as err:  # what the dialect makes of it
        created_task(raw.json())
    assert (err.value.status, err.value.code) == (400, "invalid_value")
    assert err.value.message.startswith("MiniMax 2013: invalid params")
    assert sim_stats(sim)["generations"] == generations


# -- failures, moderation, limits -------------------------------------------------------------------------------------
async def test_moderation_maps_to_moderation_blocked(mm: MiniMaxHailuoUpstream, sim: Proc) -> None:
    generations = sim_stats(sim)["generations"]
    with pytest.raises(UpstreamError) as err:  # 1026: the input is refused at create, no task, nothing to pay
        await mm.create(spec("a forbidden ritual"))
    assert (err.value.status, err.value.code) == (400, "moderation_blocked") and not err.value.retryable
    assert err.value.message.startswith("MiniMax 1026: ")
    assert sim_stats(sim)["generations"] == generations
    refused_out = await until_done(mm, (await mm.create(spec("a gore fest"))).id)  # 1027: the output is refused
    assert refused_out.status == "failed" and refused_out.error == {
        "code": "moderation_blocked", "message": "MiniMax 1027: output video sensitive"
    }  # fmt: skip
    assert sim_stats(sim)["generations"] == generations + 1
    await fetch("POST", sim.url + "/_sim/faults", json={"faults": "fail=1"})
    try:
        broken = await until_done(mm, (await mm.create(spec("a calm lake"))).id)
    finally:
        await fetch("POST", sim.url + "/_sim/faults", json={"faults": ""})
    assert broken.error == {"code": "video_generation_failed", "message": "MiniMax 1000: unknown error"}


async def test_a_rate_limit_is_a_429_that_made_nothing(slow_sim: Proc) -> None:
    adapter = MiniMaxHailuoUpstream(slow_sim.url, KEY)
    try:
        await adapter.create(spec())
        generations = sim_stats(slow_sim)["generations"]
        with pytest.raises(UpstreamError) as err:  # a second create within the minute: --rpm 1 -> 1002
            await adapter.create(spec())
        assert (err.value.status, err.value.code) == (429, "rate_limited") and err.value.retryable
        assert err.value.message == "MiniMax 1002: rate limit exceeded(RPM)"
        assert sim_stats(slow_sim)["generations"] == generations
    finally:
        await adapter.close()


def test_base_resp_codes_map_to_the_gateway_words() -> None:
    mapped = {code: (refusal(code, "m").status, refusal(code, "m").code) for code in (1002, 1004, 1008, 1026, 1027,
                                                                                        2013, 2049, 1000)}  # fmt: skip
    assert mapped == {
        1002: (429, "rate_limited"), 1004: (401, "invalid_api_key"), 1008: (429, "quota_exhausted"),
        1026: (400, "moderation_blocked"), 1027: (400, "moderation_blocked"), 2013: (400, "invalid_value"),
        2049: (401, "invalid_api_key"), 1000: (502, "upstream_error"),
    }  # fmt: skip
    assert parse_task({"task_id": "1", "status": "Queueing", "base_resp": {"status_code": 0}}, "1").status == "queued"
    running = parse_task({"task_id": "1", "status": "Processing", "base_resp": {"status_code": 0}}, "1")
    assert (running.status, running.poll_after_ms) == ("in_progress", 10_000)
    with pytest.raises(UpstreamError) as err:  # no status, 2013: the task is not known (lost, not queued)
        parse_task({"task_id": "", "base_resp": {"status_code": 2013, "status_msg": "invalid params"}}, "9")
    assert (err.value.status, err.value.code) == (404, "upstream_lost")
    request = httpx.Request("GET", "https://api.minimax.io/v1/query/video_generation")
    busy = read_error(httpx.Response(503, text="<html>", request=request))
    assert busy.status == 503 and busy.retryable
    broke = read_error(httpx.Response(500, json={"base_resp": {"status_code": 1008, "status_msg": "no"}},
                                      request=request))  # fmt: skip
    assert (broke.status, broke.code) == (429, "quota_exhausted")


# -- the v2 surface's requests --------------------------------------------------------------------------------------
def h3(prompt: str = "a paper boat on a canal", **kw: Any) -> GenerationSpec:
    return spec(prompt, **{"model": "MiniMax-H3-768P", "size": "768x1344", "seconds": 12, **kw})


# -- callbacks ------------------------------------------------------------------------------------------------------
class Hook:
    """A callback receiver answering with the dialect's :meth:`callback_reply` (an empty object if not ``echo``)."""

    def __init__(self, adapter: MiniMaxHailuoUpstream, echo: bool = True) -> None:
        self.bodies: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                owner.bodies.append(body)
                reply = json.dumps(adapter.callback_reply(body) if echo else {}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mm/secret-1"


async def wait_for(check: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_callbacks_follow_the_challenge_handshake(mm: MiniMaxHailuoUpstream, sim: Proc) -> None:
    hook, silent = Hook(mm), Hook(mm, echo=False)
    try:
        created = await mm.create(spec(callback_url=hook.url))
        refused = await mm.create(spec(callback_url=silent.url))
        on_v2 = await mm.create(h3(seconds=5, callback_url=hook.url + "-h3"))
        await wait_for(lambda: any(b.get("status") == "Success" for b in hook.bodies))
        await wait_for(lambda: any(b.get("task", {}).get("status") == "succeeded" for b in hook.bodies))
        await until_done(mm, refused.id)
        await wait_for(lambda: dict(sim_stats(sim)["callbacks"])["refused"] >= 1)  # type: ignore[arg-type]
    finally:
        hook.server.shutdown()
        silent.server.shutdown()
    assert set(hook.bodies[0]) == {"challenge"} and mm.callback_reply(hook.bodies[0]) == hook.bodies[0]
    v2_bodies = [b for b in hook.bodies if "task" in b]
    assert all(b["task"]["id"] == on_v2.id.removeprefix("v2-") for b in v2_bodies)
    assert v2_bodies[-1]["task"]["content"]["url"].startswith("http")
    updates = [b for b in hook.bodies[1:] if "task_id" in b]
    assert [b["status"] for b in updates][-1] == "Success" and all(b["task_id"] == created.id for b in updates)
    assert updates[-1]["file_id"].isdigit() and updates[-1]["base_resp"]["status_code"] == 0
    assert [set(b) for b in silent.bodies] == [{"challenge"}]  # no echo: no status is ever sent
    assert mm.callback_reply({"task_id": "1", "status": "Success"}) is None


# -- whatever MiniMax answers reads as a video or an UpstreamError ----------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
STATUS_WORDS = st.sampled_from(["Preparing", "Queueing", "Processing", "Success", "Fail", "x", ""])
ANSWER = st.fixed_dictionaries(
    {"task_id": st.text(max_size=8), "status": STATUS_WORDS},
    optional={"file_id": JSON, "base_resp": st.fixed_dictionaries({"status_code": JSON, "status_msg": JSON})},
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ANSWER)
def test_any_query_answer_reads_as_a_video_or_an_upstream_error(answer: dict[str, Any]) -> None:
    try:
        video = parse_task(answer, "t")
    except UpstreamError as exc:
        assert 400 <= exc.status < 600 and exc.message.startswith("MiniMax")
        return
    assert video.status in ("queued", "in_progress", "completed", "failed")
    assert video.status != "failed" or (video.error is not None and video.error["code"])
    assert video.status != "completed" or isinstance(video.content_ids["video"], str)
