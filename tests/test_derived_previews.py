"""Previews for providers that make none: the gateway derives the thumbnail (WebP, a frame a third of the way in)
and the spritesheet (JPEG grid) from the finished MP4 with PyAV, stores them as it stores upstream previews and
serves them on the same route with the same ETag and Range rules, never asking the upstream for them.

End to end on the simulated Kling API (real gateway, simulator and PyAV); the failure path in-process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from gateway.media.previews import derive_previews
from gateway.observability import PREVIEWS_DERIVED
from tests.conftest import FAST_CONFIG, Gateway, start_gateway
from tests.procs import Proc, start_simulator
from tests.test_provider_kling_e2e import KEY

Stack = tuple[Proc, Gateway]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sim = start_simulator("--api-key", KEY, profile="kling", time_scale=0.004)
    config = FAST_CONFIG + f"upstreams:\n  - {{url: {sim.url}, api_key_env: KLING_PV_KEY, profile: kling}}\n"
    gw = start_gateway(sim, tmp_path_factory.mktemp("kling-pv"), "memory://", config=config, env={"KLING_PV_KEY": KEY})
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def sim_calls(sim: Proc) -> dict[str, int]:
    return dict(httpx.get(sim.url + "/_sim/stats").json()["calls"])


def picture(data: bytes, path: Path) -> tuple[str, int, int]:
    """(codec, width, height) of a still image, decoded with PyAV."""
    path.write_bytes(data)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return container.streams.video[0].codec_context.name, frame.width, frame.height


def video_size(data: bytes, path: Path) -> tuple[int, int]:
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def assert_previews(http: httpx.Client, video_id: str, tmp: Path) -> None:
    """Thumbnail and spritesheet of ``video_id`` decode, with the video's aspect, served with ETag and Range."""
    width, height = video_size(http.get(f"/v1/videos/{video_id}/content").content, tmp / f"{video_id}.mp4")
    thumb = http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert thumb.status_code == 200, thumb.text
    assert thumb.headers["content-type"] == "image/webp"
    codec, tw, th = picture(thumb.content, tmp / f"{video_id}.webp")
    assert codec == "webp" and abs(tw / th - width / height) < 0.02
    etag = thumb.headers["etag"]
    assert etag == '"' + hashlib.sha256(thumb.content).hexdigest() + '"'
    again = http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    part = http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"}, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == thumb.content[:10]

    sheet = http.get(f"/v1/videos/{video_id}/content", params={"variant": "spritesheet"})
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/jpeg"
    codec, sw, sh = picture(sheet.content, tmp / f"{video_id}.jpg")
    assert codec == "mjpeg"
    cell_w, cell_h = sw / 4, sh / 4  # 16 frames, 4 columns
    assert abs(cell_w / cell_h - width / height) < 0.02


def test_kling_job_gets_a_thumbnail_and_spritesheet_made_from_its_video(stack: Stack, tmp_path: Path) -> None:
    sim, gw = stack
    client = gw.client()
    before = sim_calls(sim)
    done = client.videos.create_and_poll(
        prompt="a paper boat on a rain gutter", model="sora-2", seconds="8", size="720x1280", poll_interval_ms=100
    )
    assert done.status == "completed", done.error
    with gw.http() as http:
        assert_previews(http, done.id, tmp_path)
        listed = http.get("/v1/gateway/console/jobs", params={"limit": 5})  # what the console's job rows show
        assert listed.status_code == 200, listed.text
        row = next(v for v in listed.json()["data"] if v["id"] == done.id)
        assert row["has_thumbnail"] and row["thumbnail_variant"] == "thumbnail"
    after = sim_calls(sim)
    assert after["kling_cdn"] - before["kling_cdn"] == 1  # the video once; no preview asked of the upstream again
    # the SDK's own download works as with Sora's previews
    assert client.videos.download_content(done.id, variant="thumbnail").content[:4] == b"RIFF"


def test_story_film_and_each_scene_have_their_own_previews(stack: Stack, tmp_path: Path) -> None:
    _sim, gw = stack
    scenes = [{"prompt": "A red kite rises over a beach.", "seconds": 5}, {"prompt": "The kite dives.", "seconds": 5}]
    with gw.http() as http:
        created = http.post("/v1/gateway/stories", json={"scenes": scenes, "size": "1280x720"})
        assert created.status_code == 200, created.text
        story = created.json()
        done = gw.client().videos.poll(story["id"], poll_interval_ms=100)
        assert done.status == "completed", done.error
        assert_previews(http, story["id"], tmp_path)
        thumbs = set()
        for scene_id in story["scenes"]:
            scene = gw.client().videos.poll(scene_id, poll_interval_ms=100)
            assert scene.status == "completed", scene.error
            assert_previews(http, scene_id, tmp_path)
            thumbs.add(http.get(f"/v1/videos/{scene_id}/content", params={"variant": "thumbnail"}).content)
        assert len(thumbs) == 2  # each scene's own picture, not the film's


async def test_a_video_that_cannot_be_read_gives_no_preview_and_no_error(tmp_path: Path) -> None:
    broken = tmp_path / "video.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    failed = PREVIEWS_DERIVED.labels("thumbnail", "failed")
    count = failed._value.get()
    made = await derive_previews(broken, tmp_path, ("thumbnail", "spritesheet"), "video_broken")
    assert made == {"thumbnail": "", "spritesheet": ""}
    assert failed._value.get() == count + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.mp4"]  # nothing half-written left behind


def test_the_thumbnail_is_the_frame_a_third_in_and_the_sheet_samples_the_whole_video(tmp_path: Path) -> None:
    """Three prompts of 2 s, 4 s and 3 s: a third of 9 s is in the second; the sheet's cells cover all three."""
    from gateway.media import Segment, render_video
    from gateway.media.previews import derive_preview, frames_at

    video = tmp_path / "v.mp4"
    render_video(video, [Segment("red dawn", 2), Segment("blue noon", 4), Segment("green dusk", 3)], 320, 180)
    picks = [f.to_ndarray(format="rgb24").astype(float) for f in frames_at(video, [0.1, 0.4, 0.9])]
    with av.open(str(derive_preview(video, tmp_path, "thumbnail"))) as container:
        thumb = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    distance = [abs(thumb - pick).mean() for pick in picks]
    assert distance.index(min(distance)) == 1, distance
    with av.open(str(derive_preview(video, tmp_path, "spritesheet"))) as container:
        sheet = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    assert sheet.shape == (4 * 144, 4 * 256, 3)  # 16 cells of 256x144 (the video's 16:9)
    colours = [pick.mean(axis=(0, 1)) for pick in picks]  # each prompt's own colours

    def nearest(cell: object) -> int:
        mean = cell.mean(axis=(0, 1))  # type: ignore[attr-defined]
        return min(range(3), key=lambda i: float(abs(mean - colours[i]).sum()))

    assert nearest(sheet[:144, :256]) == 0 and nearest(sheet[3 * 144 :, 3 * 256 :]) == 2  # first and last cell
