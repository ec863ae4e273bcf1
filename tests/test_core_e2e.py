"""The stateful core end to end: real simulator, real gateway, official SDK, real MP4s.

The whole module runs once per store (sqlite, redis).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.media.probe import probe_duration
from tests.conftest import UPSTREAM_KEY, Gateway, calls, sim_stats, start_gateway, store_url
from tests.procs import Proc, start_simulator


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def gateway(
    request: pytest.FixtureRequest, simulator: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp(f"gw-{request.param}")
    gw = start_gateway(simulator, tmp, store_url(request.param, tmp))
    yield gw
    gw.proc.stop()
    assert UPSTREAM_KEY not in gw.proc.logs(), "the upstream key leaked into the logs"


def test_create_is_multipart_and_owned_by_gateway(gateway: Gateway, simulator: Proc) -> None:
    client = gateway.client()
    video = client.videos.create(prompt="a red fox running through snow", seconds="4", size="1280x720")
    assert video.id.startswith("video_") and len(video.id) == len("video_") + 48
    assert video.status in ("queued", "in_progress")
    assert video.model == "sora-2" and video.size == "1280x720" and video.seconds == "4"
    again = client.videos.retrieve(video.id)
    assert again.id == video.id and again.prompt == "a red fox running through snow"


def test_create_and_poll_then_download_every_variant(gateway: Gateway, tmp_path: Path) -> None:
    client = gateway.client()
    video = client.videos.create_and_poll(prompt="waves at dusk", seconds="8", size="720x1280", poll_interval_ms=100)
    assert video.status == "completed" and video.progress == 100 and video.completed_at
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(video.id, variant="video").write_to_file(mp4)
    assert abs(probe_duration(mp4) - 8.0) < 0.2
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.response.headers["content-type"] == "image/webp" and len(thumb.content) > 100
    sprite = client.videos.download_content(video.id, variant="spritesheet")
    assert sprite.response.headers["content-type"].startswith("image/") and len(sprite.content) > 100


def test_range_request_on_content(gateway: Gateway) -> None:
    video = gateway.client().videos.create_and_poll(prompt="range test clip", poll_interval_ms=100)
    with gateway.http() as http:
        whole = http.get(f"/v1/videos/{video.id}/content")
        part = http.get(f"/v1/videos/{video.id}/content", headers={"Range": "bytes=10-109"})
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert int(whole.headers["content-length"]) == len(whole.content)
    assert part.status_code == 206 and part.content == whole.content[10:110]


def test_list_is_paginated_and_tenant_scoped(gateway: Gateway) -> None:
    client = gateway.client("globex")
    made = [client.videos.create(prompt=f"list item {i}").id for i in range(3)]
    first = client.videos.list(limit=2, order="desc")
    assert [v.id for v in first.data] == made[::-1][:2] and first.has_more
    rest = client.videos.list(limit=2, order="desc", after=first.data[-1].id)
    assert [v.id for v in rest.data] == made[:1]
    everything = [v.id for v in client.videos.list(limit=2)]  # the SDK's auto-pagination
    assert set(made) <= set(everything)
    acme_ids = {v.id for v in gateway.client("acme").videos.list(limit=100).data}
    assert not acme_ids & set(made)


def test_remix_then_delete_then_404(gateway: Gateway) -> None:
    client = gateway.client()
    source = client.videos.create_and_poll(prompt="a paper boat", seconds="4", poll_interval_ms=100)
    remix = client.videos.remix(source.id, prompt="a paper boat in the rain")
    assert remix.remixed_from_video_id == source.id
    done = client.videos.poll(remix.id, poll_interval_ms=100)
    assert done.status == "completed" and done.seconds == source.seconds
    deleted = client.videos.delete(done.id)
    assert deleted.deleted and deleted.id == done.id
    with pytest.raises(openai.NotFoundError) as err:
        client.videos.retrieve(done.id)
    assert err.value.body["code"] == "not_found"  # type: ignore[index]


def test_other_tenant_sees_404_and_bad_key_is_401(gateway: Gateway) -> None:
    video = gateway.client("acme").videos.create(prompt="private to acme")
    other = gateway.client("globex")
    with pytest.raises(openai.NotFoundError):
        other.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        other.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        other.videos.download_content(video.id)
    with pytest.raises(openai.NotFoundError):
        other.videos.remix(video.id, prompt="steal")
    bad = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.videos.list()
    assert err.value.body["code"] == "invalid_api_key"  # type: ignore[index]


def test_client_polls_are_absorbed(gateway: Gateway, simulator: Proc) -> None:
    client = gateway.client()
    video = client.videos.create(prompt="absorbed polls", seconds="12")
    before = calls(simulator, "retrieve")
    polls = 0
    while client.videos.retrieve(video.id).status not in ("completed", "failed"):
        polls += 1
        time.sleep(0.01)
    upstream_polls = calls(simulator, "retrieve") - before
    assert polls > 20
    assert upstream_polls < polls / 3, (upstream_polls, polls)


def test_upstream_refusal_is_passed_on_and_nothing_is_kept(gateway: Gateway) -> None:
    client = gateway.client()
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="something forbidden here")
    assert err.value.body["code"] == "moderation_blocked"  # type: ignore[index]
    assert all(v.prompt != "something forbidden here" for v in client.videos.list(limit=100).data)


def test_bad_input_gets_openai_shaped_errors(gateway: Gateway) -> None:
    with gateway.http() as http:
        cases = [
            (http.post("/v1/videos", content=b"{not json", headers={"content-type": "application/json"}), 400, None),
            (http.post("/v1/videos", json={"prompt": "x", "colour": "red"}), 400, "colour"),
            (http.post("/v1/videos", json={"prompt": 42}), 400, "prompt"),
            (http.post("/v1/videos", json={"model": "sora-2"}), 400, "prompt"),
            (http.post("/v1/videos", json={"prompt": "   "}), 400, "prompt"),
            (http.post("/v1/videos", json={"prompt": "x" * 32001}), 400, "prompt"),
            (http.post("/v1/videos", json={"prompt": "x", "model": "sora-9"}), 400, "model"),
            (http.post("/v1/videos", json={"prompt": "x", "seconds": "-3"}), 400, "seconds"),
            (http.post("/v1/videos", json={"prompt": "x", "size": "big"}), 400, "size"),
            (http.get("/v1/videos", params={"limit": "500"}), 400, "limit"),
            (http.get("/v1/videos/video_nope"), 404, None),
            (http.get("/v1/videos/video_nope/content", params={"variant": "poster"}), 400, "variant"),
            (http.put("/v1/videos"), 405, None),
            (http.get("/v1/nothing-here"), 404, None),
            (
                http.post(
                    "/v1/videos", content=b"x" * (65 * 1024 * 1024), headers={"content-type": "application/json"}
                ),
                413,
                None,
            ),
        ]
    for response, status, param in cases:
        assert response.status_code == status, (response.request.url, response.text[:200])
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
        assert error["param"] == param, (response.request.url, error)
        assert "Traceback" not in response.text


# The simulator scales its content lifetime by --time-scale (3600 s x 0.004 = 14 s): a restart slowed down by a
# loaded machine let the upstream expire the finished videos before the new process fetched them, and the jobs
# (rightly) failed with content_expired. Here the videos stay upstream for 10 real minutes, as they would for an hour.
KEEP_UPSTREAM_S = 600


@pytest.fixture(scope="module")
def keeping_simulator() -> Iterator[Proc]:
    sim = start_simulator("--content-ttl", str(KEEP_UPSTREAM_S / 0.004), time_scale=0.004)
    yield sim
    sim.stop()


def test_killed_gateway_resumes_every_job(
    keeping_simulator: Proc, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    simulator = keeping_simulator
    for kind in ("sqlite", "redis"):
        tmp = tmp_path / kind
        store = store_url(kind, tmp_path)
        gw = start_gateway(simulator, tmp, store)
        before = int(sim_stats(simulator)["generations"])  # type: ignore[arg-type]
        ids = [gw.client().videos.create(prompt=f"survive kill {kind} {i}", seconds="12").id for i in range(3)]
        gw.proc.kill()
        assert gw.proc.popen is not None and gw.proc.popen.returncode == -9
        gw2 = start_gateway(simulator, tmp, store, port=gw.proc.port)
        try:
            client = gw2.client()
            for video_id in ids:
                done = client.videos.poll(video_id, poll_interval_ms=100)
                assert done.status == "completed", done
                assert abs(probe_duration_bytes(client.videos.download_content(video_id).content, tmp) - 12) < 0.2
            assert int(sim_stats(simulator)["generations"]) - before == 3, "a job was generated twice upstream"  # type: ignore[arg-type]
        finally:
            gw2.proc.stop()


def probe_duration_bytes(data: bytes, tmp: Path) -> float:
    path = tmp / "probe.mp4"
    path.write_bytes(data)
    return probe_duration(path)
