"""The MiniMax Hailuo dialect's v2 surface (MiniMax-H3) against the simulated MiniMax API (real simulator
processes, plain HTTP, PyAV). Bodies follow platform.minimax.io/docs/api-reference/video-generation-v2-create and
-v2-query; the refusals are the vendor's examples (a real HTTP status, the code in the message's parentheses).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.models import Reference
from gateway.providers.minimax_hailuo.answers import read_error
from gateway.providers.minimax_hailuo.answers_v2 import parse_task_v2
from gateway.providers.minimax_hailuo.dialect import MiniMaxHailuoUpstream
from gateway.providers.minimax_hailuo.wire_v2 import create_body_v2
from gateway.upstreams.base import UpstreamError
from tests.conftest import calls, sim_stats
from tests.procs import Proc, start_simulator
from tests.test_provider_minimax_hailuo import AUTH, JSON, KEY, download, fetch, frame_png, h3, until_done


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


async def test_v2_bodies_are_the_documented_ones(tmp_path: Path) -> None:
    body = await create_body_v2(h3())
    assert json.dumps(body) == (
        '{"model": "MiniMax-H3", "content": [{"type": "text", "text": "a paper boat on a canal"}], '
        '"resolution": "768P", "duration": 12, "ratio": "9:16", "aigc_watermark": false}'
    )
    frame = frame_png(tmp_path, 640, 360)
    chained = await create_body_v2(h3(model="MiniMax-H3", size="2560x1440", seconds=5, reference=frame,
                                      last_frame=Reference(image_url="https://e.com/end.png")))  # fmt: skip
    assert "ratio" not in chained and chained["resolution"] == "2K"  # the first frame decides the aspect
    assert [(i["type"], i.get("role")) for i in chained["content"]] == [
        ("text", None), ("image_url", "first_frame"), ("image_url", "last_frame")
    ]  # fmt: skip
    assert chained["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    for bad, param in ((h3(seconds=4), "seconds"), (h3(size="2560x1440"), "size"), (h3(size="1366x768"), "size")):
        with pytest.raises(UpstreamError) as err:
            await create_body_v2(bad)
        assert (err.value.status, err.value.param) == (400, param)


async def test_v2_create_poll_and_download_a_portrait_video(
    mm: MiniMaxHailuoUpstream, sim: Proc, tmp_path: Path
) -> None:
    v2 = calls(sim, "mm_create_v2")
    created = await mm.create(h3())
    assert created.id.startswith("v2-") and created.model == "MiniMax-H3"
    done = await until_done(mm, created.id)
    assert done.status == "completed" and done.content_ids["video"].startswith(sim.url + "/minimax-files/")
    raw = await fetch("GET", f"{sim.url}/v2/query/video_generation/{created.id[3:]}", headers=AUTH)
    assert raw.json()["task"]["status"] == "succeeded" and raw.json()["task"]["ratio"] == "9:16"
    assert await download(mm, created.id, tmp_path / "h3.mp4") == (768, 1344, pytest.approx(12.0, abs=0.01))
    assert calls(sim, "mm_create_v2") == v2 + 1 and calls(sim, "mm_cdn_with_auth") == 0
    with pytest.raises(UpstreamError) as err:  # an unknown (or older than 7 days) task: lost, not queued
        await mm.retrieve("v2-424010985738629")
    assert (err.value.status, err.value.code) == (404, "upstream_lost")


async def test_v2_refusals_are_http_statuses_with_the_code_in_the_message(mm: MiniMaxHailuoUpstream, sim: Proc) -> None:
    body = {"model": "MiniMax-H3", "content": [{"type": "text", "text": "a kite"}], "duration": 5, "ratio": "16:9"}
    no_key = await fetch("POST", sim.url + "/v2/video_generation", json=body)
    assert no_key.status_code == 401 and no_key.json()["error"]["message"].endswith("(1004)")
    assert set(no_key.json()) == {"type", "error", "request_id"}
    text_only = await fetch("POST", sim.url + "/v2/video_generation", json={**body, "ratio": "adaptive"}, headers=AUTH)
    assert text_only.status_code == 400 and read_error(text_only).code == "invalid_value"
    generations = sim_stats(sim)["generations"]
    with pytest.raises(UpstreamError) as err:  # 1026 (HTTP 422): refused at create, nothing made
        await mm.create(h3("a forbidden ritual"))
    assert (err.value.status, err.value.code) == (400, "moderation_blocked")
    assert err.value.message == "MiniMax 1026: video description contains sensitive content"
    assert sim_stats(sim)["generations"] == generations
    failed = await until_done(mm, (await mm.create(h3("a gore fest"))).id)
    assert failed.error == {"code": "moderation_blocked", "message": "MiniMax 1027: output video contains sensitive "
                            "content"}  # fmt: skip


async def test_v2_rate_limit_is_a_429(slow_sim: Proc) -> None:
    adapter = MiniMaxHailuoUpstream(slow_sim.url, KEY)
    try:
        await adapter.create(h3())
        with pytest.raises(UpstreamError) as err:
            await adapter.create(h3())
        assert (err.value.status, err.value.code) == (429, "rate_limited")
        assert err.value.message == "MiniMax 1002: rate limit, please retry later"
    finally:
        await adapter.close()


V2_TASK = st.fixed_dictionaries(
    {"status": st.sampled_from(["queued", "running", "succeeded", "failed", "cancelled", "x"])},
    optional={"content": st.one_of(JSON, st.fixed_dictionaries({"url": JSON})), "error": JSON},
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.one_of(JSON, st.fixed_dictionaries({"task": V2_TASK})))
def test_any_v2_answer_reads_as_a_video_or_an_upstream_error(answer: Any) -> None:
    try:
        video = parse_task_v2(answer, "v2-1")
    except UpstreamError as exc:
        assert exc.status == 502 and exc.message.startswith("MiniMax")
        return
    assert video.status in ("queued", "in_progress", "completed", "failed")
    assert video.status != "failed" or (video.error is not None and video.error["code"])
    assert video.status != "completed" or video.content_ids["video"].startswith("http")
