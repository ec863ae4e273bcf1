"""The Luma Dream Machine dialect against its simulated API, and the gateway in front of it (real processes).

Literal bodies are compared with the spec's examples (/work/notes/providers/luma-dream-machine.md §3.2, from
Luma's OpenAPI spec and docs.lumalabs.ai), so a dialect drifting from the docs fails here.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core.models import Reference
from gateway.media.probe import probe_duration, probe_video
from gateway.providers.luma_dream_machine import dialect
from gateway.providers.luma_dream_machine.answers import parse_generation, read_error
from gateway.providers.luma_dream_machine.dialect import LumaDreamMachineUpstream
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import FAST_CONFIG, calls, sim_stats, start_gateway, store_url
from tests.procs import Proc, start_simulator, wait_for
from tests.receiver import Receiver

KEY = "luma-" + "0123456789abcdef" * 4
BASE = "/dream-machine/v1"


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="luma-dream-machine", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def dm(sim: Proc) -> AsyncIterator[LumaDreamMachineUpstream]:
    adapter = LumaDreamMachineUpstream(sim.url + BASE, KEY)
    yield adapter
    await adapter.close()


def spec(prompt: str = "a red kite over dunes", **kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": prompt, "model": "ray-2", "size": "1280x720"}
    return GenerationSpec(**{**fields, "seconds": 5, **kw})


async def until_done(adapter: LumaDreamMachineUpstream, generation_id: str) -> UpstreamVideo:
    for _ in range(400):
        video = await adapter.retrieve(generation_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"generation {generation_id} never finished")


def test_create_bodies_are_the_documented_ones() -> None:
    adapter = LumaDreamMachineUpstream("https://api.lumalabs.ai/dream-machine/v1", KEY)
    body = adapter.body(spec("an old lady laughing underwater, wearing a scuba diving suit"))
    assert json.dumps(body) == (
        '{"model": "ray-2", "generation_type": "video", "prompt": "an old lady laughing underwater, wearing a scuba '
        'diving suit", "aspect_ratio": "16:9", "resolution": "720p", "duration": "5s"}'
    )
    url = "https://storage.cdn-luma.com/dream_machine/7e4fe07f/video_0_thumb.jpg"
    framed = adapter.body(
        spec("A tiger walking in snow", model="ray-flash-2", size="540x960", seconds=9,
             reference=Reference(image_url=url), callback_url="https://gw.example/cb/luma/tok")
    )  # fmt: skip
    assert framed == {
        "model": "ray-flash-2", "generation_type": "video", "prompt": "A tiger walking in snow", "aspect_ratio": "9:16",
        "resolution": "540p", "duration": "9s", "keyframes": {"frame0": {"type": "image", "url": url}},
        "callback_url": "https://gw.example/cb/luma/tok",
    }  # fmt: skip
    for bad, code in [
        (spec(reference=Reference(path="/tmp/x.png")), "invalid_value"),  # images are URLs only
        (spec(kind="extend", source_id="g"), "unsupported_by_upstream"),
    ]:
        with pytest.raises(UpstreamError) as err:
            adapter.body(bad)
        assert (err.value.status, err.value.code) == (400, code)
    assert adapter.lists is True and adapter.callbacks is True


async def test_create_poll_list_download_and_delete(dm: LumaDreamMachineUpstream, sim: Proc, tmp_path: Path) -> None:
    created = await dm.create(spec("a paper boat on a canal", model="ray-flash-2", size="720x1280", seconds=9))
    assert created.status == "queued" and created.created_at is not None
    done = await until_done(dm, created.id)
    assert done.status == "completed" and done.content_ids["video"].startswith(sim.url + "/dm-cdn/")
    # what reconciliation matches a lost create on: the create's echo in Luma's listing
    page = await dm.list_page()
    listed = next(v for v in page.videos if v.id == created.id)
    assert (listed.prompt, listed.model, listed.size, listed.seconds) == (
        "a paper boat on a canal", "ray-flash-2", "720x1280", "9",
    )  # fmt: skip
    assert next(v.id for v in await dm.list_recent(created.created_at - 5)) == created.id  # newest first
    stream = await dm.open_content(created.id, "video")
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    await stream.close()
    info = probe_video(mp4)
    assert (info["width"], info["height"]) == (720, 1280) and abs(probe_duration(mp4) - 9.0) < 0.01
    with pytest.raises(UpstreamError) as err:
        await dm.open_content(created.id, "thumbnail")
    assert err.value.status == 404
    before = calls(sim, "dm_delete")
    await dm.delete(created.id)
    await dm.delete(created.id)  # already gone: fine
    assert calls(sim, "dm_delete") == before + 2
    with pytest.raises(UpstreamError) as err:
        await dm.retrieve(created.id)
    assert (err.value.status, err.value.code) == (404, "not_found")


async def test_paging_continues_after_the_last_id(
    dm: LumaDreamMachineUpstream, sim: Proc, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = await dm.http.client.get("/generations", params={"limit": "2", "offset": "0"})
    assert raw.status_code == 200 and set(raw.json()) == {"has_more", "count", "limit", "offset", "generations"}
    made = [(await dm.create(spec(f"paging {n}"))).id for n in range(3)]
    monkeypatch.setattr(dialect, "LIST_LIMIT", 2)
    first = await dm.list_page()
    second = await dm.list_page(first.videos[-1].id)
    assert [v.id for v in first.videos] == made[::-1][:2] and first.has_more  # newest first
    assert second.videos[0].id == made[0] and not {v.id for v in first.videos} & {v.id for v in second.videos}
    with pytest.raises(UpstreamError) as err:
        await dm.list_page("not-a-listed-id")
    assert err.value.status == 400
    bad = await dm.http.client.get("/generations", params={"limit": "0"})
    assert (bad.status_code, bad.json()) == (400, {"detail": "limit: expected an integer from 1 to 1000"})


def test_auth_and_wire_types_are_refused_the_luma_way(sim: Proc) -> None:
    url = sim.url + BASE + "/generations/video"
    good = {"model": "ray-2", "prompt": "a kite", "resolution": "720p", "duration": "5s"}
    assert httpx.post(url, json=good).json() == {"detail": "Invalid API key is provided"}
    assert httpx.post(url, json=good, headers={"Authorization": "Bearer luma-x"}).status_code == 401
    headers = {"Authorization": f"Bearer {KEY}"}
    cases = [
        ({"duration": 5}, "duration: expected a string, got a number"),
        ({"duration": "10s"}, "duration: must be one of 5s, 9s"),
        ({"resolution": 720}, "resolution: expected a string"),
        ({"model": None}, "model: field required"),
        ({"model": "ray-3"}, "model: must be one of"),
        ({"loop": "true"}, "loop: expected a boolean"),
        ({"negative_prompt": "rain"}, "body: unknown field negative_prompt"),
        ({"keyframes": {"frame0": {"type": "image", "data": "AAAA"}}}, "an image keyframe is"),
        ({"keyframes": {"frame0": {"type": "image", "url": "ftp://x/a.png"}}}, "must be an http(s) URL"),
        ({"callback_url": 7}, "callback_url: expected a string"),
    ]
    for change, fragment in cases:
        raw = httpx.post(url, json={**good, **change}, headers=headers)
        assert raw.status_code == 400 and fragment in raw.json()["detail"], (change, raw.text)
        mapped = read_error(raw)
        assert (mapped.status, mapped.code) == (400, "invalid_value") and mapped.message.startswith("Luma: ")
    older = httpx.post(sim.url + BASE + "/generations", json=good, headers=headers)  # the docs' older create path
    assert (
        older.status_code == 201 and older.json()["state"] == "queued" and older.json()["request"]["model"] == "ray-2"
    )


async def test_moderation_and_failures_map_to_the_gateway_words(dm: LumaDreamMachineUpstream, sim: Proc) -> None:
    refused = await until_done(dm, (await dm.create(spec("a forbidden ritual"))).id)
    assert refused.error is not None and refused.error["code"] == "moderation_blocked"
    assert "moderation" in refused.error["message"]
    await dm.cdn.client.post(sim.url + "/_sim/faults", json={"faults": "fail=1"})
    try:
        broken = await until_done(dm, (await dm.create(spec("a calm lake"))).id)
    finally:
        await dm.cdn.client.post(sim.url + "/_sim/faults", json={"faults": ""})
    assert broken.error == {"code": "video_generation_failed", "message": "Luma: Internal error while dreaming"}
    assert parse_generation({"id": "g", "state": "dreaming"}).status == "in_progress"
    request = httpx.Request("POST", "https://api.lumalabs.ai/dream-machine/v1/generations/video")
    broke = read_error(httpx.Response(402, json={"detail": "Insufficient credits"}, request=request))
    assert (broke.status, broke.code) == (429, "quota_exhausted")


def test_a_rate_limit_is_a_429() -> None:
    proc = start_simulator("--api-key", KEY, "--rpm", "1", profile="luma-dream-machine", time_scale=1.0)
    try:
        url, headers = proc.url + BASE + "/generations/video", {"Authorization": f"Bearer {KEY}"}
        body = {"model": "ray-2", "prompt": "a kite"}
        assert httpx.post(url, json=body, headers=headers).status_code == 201
        limited = httpx.post(url, json=body, headers=headers)
        assert (limited.status_code, limited.json()) == (429, {"detail": "Too many requests"})
        error = read_error(limited)
        assert (error.status, error.code) == (429, "rate_limited") and error.retry_after is not None
    finally:
        proc.stop()


async def test_callbacks_post_the_generation_at_each_change(dm: LumaDreamMachineUpstream, sim: Proc) -> None:
    receiver = Receiver().start()
    try:
        hook = f"{receiver.url}/cb/luma/secret-token"
        created = await dm.create(spec("a kite at dawn", callback_url=hook))
        await until_done(dm, created.id)
        for _ in range(200):
            if receiver.received and receiver.received[-1].json["state"] == "completed":
                break
            await asyncio.sleep(0.05)
        bodies = [r.json for r in receiver.received]
        states = [b["state"] for b in bodies]  # once per change seen (a quick phase may pass between two looks)
        assert states[-1] == "completed" and states == [s for s in ("queued", "dreaming", "completed") if s in states]
        assert all(r.path == "/cb/luma/secret-token" and KEY not in r.body.decode() for r in receiver.received)
        assert bodies[-1]["id"] == created.id and bodies[-1]["assets"]["video"].endswith("/video.mp4")
        assert bodies[-1]["request"]["callback_url"] == hook  # the token is echoed back
        assert dict(sim_stats(sim)["callbacks"])["delivered"] >= len(bodies)  # type: ignore[arg-type]
    finally:
        receiver.stop()


# -- the gateway in front of it ----------------------------------------------------------------------------------------
def test_sora_12_seconds_and_a_lost_create_adopted_from_the_listing(tmp_path: Path) -> None:
    """sora-2 12 s portrait on ray-flash-2; then the gateway dies while Luma holds a create's answer: the next one
    finds the generation in Luma's listing (prompt, model, size, length) and adopts it, nothing made twice."""
    sim = start_simulator("--api-key", KEY, profile="luma-dream-machine", time_scale=0.004)
    config = FAST_CONFIG + "poll_max_s: 0.2\n"
    store = store_url("sqlite", tmp_path)
    env = {"SORA_GATEWAY_UPSTREAM_API_KEY": KEY}
    extra = ("--upstream", sim.url + BASE, "--upstream-profile", "luma-dream-machine")
    gw = start_gateway(sim, tmp_path / "gw", store, *extra, config=config, env=env)
    gw2 = None
    try:
        client = gw.client()
        raw = client.videos.with_raw_response.create(model="sora-2", prompt="a tram", seconds="12", size="720x1280")
        assert raw.headers["x-sora-gateway-adapted"] == (
            "model=sora-2->ray-flash-2; size=720x1280->9:16@720p; seconds=12->9+5(stitched,trimmed to 12)"
        )
        done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
        assert done.status == "completed" and done.to_dict()["upstream_model"] == "ray-flash-2"
        mp4 = tmp_path / "v.mp4"
        client.videos.download_content(done.id).write_to_file(mp4)
        info = probe_video(mp4)
        assert (info["width"], info["height"]) == (720, 1280) and abs(probe_duration(mp4) - 12.0) <= 0.1

        httpx.post(sim.url + "/_sim/faults", json={"faults": "late=1.0,slow_s=3"})
        before, generations = calls(sim, "dm_create"), sim_stats(sim)["generations"]
        outcome: list[object] = []

        def create() -> None:
            try:
                outcome.append(client.videos.create(model="sora-2", prompt="a lighthouse in a storm", seconds="5"))
            except Exception as exc:  # the gateway dies under the request
                outcome.append(exc)

        thread = threading.Thread(target=create, daemon=True)
        thread.start()
        wait_for(lambda: calls(sim, "dm_create") == before + 1, "the create to reach Luma")
        gw.proc.kill()
        thread.join(10)
        assert outcome and isinstance(outcome[0], Exception), outcome
        assert httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10).status_code == 200
        gw2 = start_gateway(sim, tmp_path / "gw", store, *extra, config=config, env=env, port=gw.proc.port)
        lost = next(v for v in gw2.client().videos.list(limit=10).data if v.id != done.id)
        adopted = gw2.client().videos.poll(lost.id, poll_interval_ms=100)
        assert adopted.status == "completed", adopted.error
        assert calls(sim, "dm_create") == before + 1 and sim_stats(sim)["generations"] == generations + 1
        assert "segment_adopted" in gw2.proc.logs() and KEY not in gw2.proc.logs() + gw.proc.logs()
    finally:
        if gw2 is not None:
            gw2.proc.stop()
        gw.proc.kill()
        sim.stop()
