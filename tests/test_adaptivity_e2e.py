"""Version adaptivity end to end: the official SDK asks for what it wants, every upstream profile delivers it.

Real simulator and gateway processes; videos measured with PyAV. The last part tests the media and
continuity machinery underneath at unit level (stitching, trimming, last-frame references).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest

from gateway.content import LocalContentStore
from gateway.core.models import Job, SegStatus, VideoRequest
from gateway.core.plan import plan_request
from gateway.jobs.advance import SegmentRunner
from gateway.jobs.finalize import fetch_and_assemble
from gateway.media.frames import last_frame
from gateway.media.probe import probe_duration, probe_video
from gateway.media.render import Segment as Clip
from gateway.media.render import render_video
from gateway.media.stitch import stitch_sync
from gateway.providers import PROFILES
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from tests.conftest import UPSTREAM_KEY, Stack, calls, sim_stats, start_gateway, store_url
from tests.procs import Proc, start_simulator

O25, O26, AZ = "openai-2025-10", "openai-2026-03", "azure-sora-1"
# profile -> (segments a 30 s request becomes, upstream operations that started them)
THIRTY = {O25: (3, {"create": 3}), O26: (2, {"create": 1, "extend": 1}), AZ: (2, {"azure_create": 2})}


def generations(sim: Proc) -> int:
    return int(sim_stats(sim)["generations"])  # type: ignore[arg-type]


def upstream_videos(sim: Proc) -> list[dict[str, object]]:
    """What the gateway created upstream, oldest first (the simulator lists by the gateway's key)."""
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}) as http:
        return list(reversed(http.get("/v1/videos", params={"limit": 100}).json()["data"]))


@pytest.mark.parametrize("profile", [O25, O26, AZ])
def test_thirty_seconds_at_1920x1080_is_one_video(profile: str, stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    sim, gw = stacks(profile)
    client = gw.client()
    before = generations(sim)
    ops_before = {op: calls(sim, op) for op in THIRTY[profile][1]}
    raw = client.videos.with_raw_response.create(prompt="a sailboat crossing a bay", seconds="30", size="1920x1080")
    header = raw.headers["x-sora-gateway-adapted"]
    assert "seconds=30->" in header
    created = raw.parse()
    assert created.seconds == "30" and created.status in ("queued", "in_progress")
    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    assert done.size in PROFILES[profile].models[PROFILES[profile].base_model(done.model) or ""]
    assert done.to_dict()["adapted"] == header.split("; ")  # the same story on the stored job
    if profile != AZ:
        assert f"size=1920x1080->{done.size}" in header
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(done.id).write_to_file(mp4)
    info = probe_video(mp4)
    assert abs(probe_duration(mp4) - 30.0) <= 1 / info["fps"], info  # within one frame
    width, height = (int(n) for n in done.size.split("x"))
    assert info["width"] > info["height"] and abs(info["width"] / info["height"] - width / height) < 0.05
    segments, operations = THIRTY[profile]
    assert generations(sim) - before == segments
    assert {op: calls(sim, op) - ops_before[op] for op in operations} == operations


def test_style_negative_prompt_and_continuity_reach_the_upstream(
    stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    sim, gw = stacks(O25)
    client = gw.client()
    known = {str(v["id"]) for v in upstream_videos(sim)}
    raw = client.videos.with_raw_response.create(
        prompt="a lantern festival",
        seconds="20",
        extra_body={"style_preset": "watercolor", "negative_prompt": "people, text"},
    )
    assert raw.headers["x-sora-gateway-adapted"] == (
        "seconds=20->12+8(stitched); style_preset->prompt; negative_prompt->prompt"
    )
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed" and done.prompt == "a lantern festival"
    made = [v for v in upstream_videos(sim) if v["id"] not in known]
    assert [v["seconds"] for v in made] == ["12", "8"]
    for video in made:
        prompt = str(video["prompt"])
        assert prompt.startswith("a lantern festival") and "Style: watercolor painting in motion" in prompt
        assert "Avoid: people, text." in prompt
    assert "Continuation (part 2 of 2)" in str(made[1]["prompt"]) and "Continuation" not in str(made[0]["prompt"])
    mp4 = tmp_path / "v.mp4"
    client.videos.download_content(done.id).write_to_file(mp4)
    assert abs(probe_duration(mp4) - 20.0) < 0.01
    # the thumbnail is the stitched film's own (made from it), neither part's
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}) as http:
        first = http.get(f"/v1/videos/{made[0]['id']}/content", params={"variant": "thumbnail"}).content
        last = http.get(f"/v1/videos/{made[1]['id']}/content", params={"variant": "thumbnail"}).content
    thumb = client.videos.download_content(done.id, variant="thumbnail").content
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP" and thumb not in (first, last)


@pytest.mark.parametrize(("profile", "fmt"), [(O25, "mp4"), (O26, "webm"), (AZ, "webm")])
def test_odd_short_durations_are_trimmed_and_webm_is_transcoded(
    profile: str, fmt: str, stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    _, gw = stacks(profile)
    seconds = "5" if profile != AZ else "21"  # Azure makes 5 s exactly; 21 s is two stitched parts
    with gw.http() as http:
        response = http.post("/v1/videos", json={"prompt": "a paper plane", "seconds": seconds, "output_format": fmt})
        assert response.status_code == 200, response.text
        header = response.headers["x-sora-gateway-adapted"]
        assert ("trimmed to 5" in header) == (profile != AZ)
        assert ("output_format=webm(transcoded from mp4)" in header) == (fmt == "webm")
    done = gw.client().videos.poll(response.json()["id"], poll_interval_ms=100)
    assert done.status == "completed" and done.seconds == seconds
    with gw.http() as http:
        content = http.get(f"/v1/videos/{done.id}/content")
    assert content.headers["content-type"] == f"video/{fmt}"
    path = tmp_path / f"v.{fmt}"
    path.write_bytes(content.content)
    info = probe_video(path)
    assert info["codec"] == ("vp9" if fmt == "webm" else "h264")
    assert abs(probe_duration(path) - int(seconds)) <= 1 / info["fps"], info


@pytest.mark.parametrize("profile", [O25, O26, AZ])
def test_bad_input_is_a_clear_400_and_costs_nothing(profile: str, stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks(profile)
    before = generations(sim)
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"size": "big"}, "size", "is not a size"),
        ({"size": "0x720"}, "size", "between 16 and"),
        ({"seconds": "-3"}, "seconds", "positive whole number"),
        ({"seconds": "7.5"}, "seconds", "positive whole number"),
        ({"seconds": "abc"}, "seconds", "not a number"),
        ({"seconds": "121"}, "seconds", "maximum of 120"),
        ({"style_preset": "vaporwave"}, "style_preset", "known: 8mm, animation, anime, cinematic"),
        ({"model": "sora-9"}, "model", "not available"),
        ({"output_format": "gif"}, "output_format", "mp4, webm"),
    ]
    with gw.http() as http:
        for extra, param, fragment in cases:
            response = http.post("/v1/videos", json={"prompt": "a cat", **extra})
            error = response.json()["error"]
            assert response.status_code == 400 and set(error) == {"message", "type", "param", "code"}, extra
            assert error["param"] == param and fragment in error["message"], (extra, error)
        if profile == AZ:
            ref = {"prompt": "a cat", "input_reference": {"image_url": "https://example.com/cat.png"}}
            error = http.post("/v1/videos", json=ref).json()["error"]
            assert error["param"] == "input_reference" and error["code"] == "unsupported_by_upstream"
    with pytest.raises(openai.BadRequestError) as err:
        gw.client().videos.create(prompt="a cat", seconds="1000")  # type: ignore[arg-type]
    assert err.value.body["param"] == "seconds"  # type: ignore[index]
    assert generations(sim) == before


def test_a_segmented_job_survives_sigkill_between_segments(tmp_path: Path) -> None:
    sim = start_simulator(time_scale=0.01)  # ~1 s per segment: time to kill between them
    store = store_url("sqlite", tmp_path)
    gw = start_gateway(sim, tmp_path, store)
    try:
        video_id = gw.client().videos.create(prompt="a long train journey", seconds="30").id
        for kill_at in (2, 3):  # once segment 2 was submitted, once segment 3 was
            deadline = time.monotonic() + 30
            while generations(sim) < kill_at and time.monotonic() < deadline:
                time.sleep(0.02)
            assert generations(sim) >= kill_at
            gw.proc.kill()
            assert gw.proc.popen is not None and gw.proc.popen.returncode == -9
            gw = start_gateway(sim, tmp_path, store, port=gw.proc.port)
        client = gw.client()
        done = client.videos.poll(video_id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        assert generations(sim) == 3, "a segment was generated twice"
        assert len(upstream_videos(sim)) == 3
        mp4 = tmp_path / "v.mp4"
        client.videos.download_content(video_id).write_to_file(mp4)
        assert abs(probe_duration(mp4) - 30.0) < 0.01
    finally:
        gw.proc.stop()
        sim.stop()


# -- unit level: stitching, trimming, continuity frames


def encode(path: Path, seconds: float, *, fps: int = 24, bframes: int = 2, audio: bool = True, shade: int = 0) -> None:
    """An H.264 (+AAC) MP4 like a real upstream's: B-frames, one keyframe a second, a 440 Hz tone."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "bf": str(bframes), "g": str(fps)})
        video.width, video.height, video.pix_fmt = 160, 90, "yuv420p"
        sound = out.add_stream("aac", rate=48000) if audio else None
        for i in range(round(seconds * fps)):
            picture = np.full((90, 160, 3), (shade + 3 * i) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is None:
            return
        total, at = round(seconds * 48000), 0
        while at < total:
            count = min(1024, total - at)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(at, at + count) / 48000)).astype(np.float32)
            chunk = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, at, Fraction(1, 48000)
            out.mux(sound.encode(chunk))
            at += count
        out.mux(sound.encode(None))


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_stitch_remuxes_identical_parts_and_cuts_on_a_frame(tmp_path: Path) -> None:
    parts = [tmp_path / f"p{i}.mp4" for i in range(3)]
    for path, (prompt, seconds) in zip(parts, [("a", 12), ("b", 12), ("c", 8)], strict=True):
        render_video(path, [Clip(prompt, seconds)], 128, 72)
    out = tmp_path / "out.mp4"
    assert stitch_sync(parts, out, 30) == "remux"
    assert probe_duration(out) == 30.0 and probe_video(out)["frames"] == 300
    decoded, originals = frames(out), [frames(p) for p in parts]
    assert len(decoded) == 300
    assert np.array_equal(decoded[0], originals[0][0]) and np.array_equal(decoded[120], originals[1][0])
    assert np.array_equal(decoded[299], originals[2][59])  # the third part cut after 6 s
    assert stitch_sync(parts, tmp_path / "all.mp4") == "remux" and probe_duration(tmp_path / "all.mp4") == 32.0
    assert stitch_sync(parts[:1], tmp_path / "one.mp4") == "copy"
    assert stitch_sync(parts[2:], tmp_path / "five.mp4", 5) == "remux"
    assert probe_duration(tmp_path / "five.mp4") == 5.0


def test_stitch_with_b_frames_and_audio_is_exact(tmp_path: Path) -> None:
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    encode(first, 4)
    encode(second, 4, shade=100)
    for seconds, method in ((None, "remux"), (7, "remux"), (7.5, "reencode")):  # 7 s cuts on a keyframe
        out = tmp_path / f"out-{seconds}.mp4"
        assert stitch_sync([first, second], out, seconds) == method
        expected = seconds or 8
        assert abs(probe_duration(out) - expected) < 1 / 24
        assert len(frames(out)) == round(expected * 24)
        with av.open(str(out)) as container:
            audio = container.streams.audio[0]
            heard = sum(f.samples for f in container.decode(audio)) / 48000
        assert abs(heard - expected) < 0.05, heard


def test_stitch_reencodes_parts_that_do_not_match(tmp_path: Path) -> None:
    render_video(tmp_path / "wide.mp4", [Clip("wide", 4)], 128, 72)
    encode(tmp_path / "other.mp4", 4, audio=False)
    out = tmp_path / "out.mp4"
    assert stitch_sync([tmp_path / "wide.mp4", tmp_path / "other.mp4"], out, 6) == "reencode"
    info = probe_video(out)
    assert (info["width"], info["height"], info["codec"]) == (128, 72, "h264")
    assert abs(info["duration"] - 6.0) <= 0.1 and info["frames"] == 60


class FakeUpstream:
    """Completes every create at once; serves a distinct rendered clip per upstream id."""

    name = "fake"
    base_url = "http://fake"

    def __init__(self, root: Path, fail_content: int = 0) -> None:
        self.root = root
        self.specs: list[GenerationSpec] = []
        self.fail_content = fail_content

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self.specs.append(spec)
        video_id = f"up{len(self.specs) - 1}"
        render_video(self.root / f"{video_id}.mp4", [Clip(video_id, spec.seconds)], 128, 72)
        return UpstreamVideo(id=video_id, status="completed", progress=100)

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        if variant != "video":
            raise UpstreamError(404, "no previews here")
        if self.fail_content:
            self.fail_content -= 1
            raise UpstreamError(503, "busy")
        data = (self.root / f"{upstream_id}.mp4").read_bytes()

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        return ContentStream(200, {"content-type": "video/mp4"}, chunks())


async def test_chained_segments_start_from_the_previous_last_frame(tmp_path: Path) -> None:
    plan = plan_request(VideoRequest(prompt="a kite", seconds="30"), PROFILES[O25])
    job = Job(
        id="video_" + "ab" * 24,
        tenant="acme",
        model=plan.model,
        prompt="a kite",
        size=plan.size,
        seconds=str(plan.seconds),
        segments=plan.segments,
        requested={"upstream_model": plan.upstream_model, **plan.extras},
    )
    upstream = FakeUpstream(tmp_path, fail_content=1)
    content = LocalContentStore(tmp_path / "content")
    runner = SegmentRunner(upstream, poll_min_s=0.0, poll_max_s=0.0, max_attempts=3, content=content)  # type: ignore[arg-type]

    async def save(_: Job) -> None:
        return None

    for _ in range(10):
        await runner.step(job, save)
        if all(s.status == SegStatus.COMPLETED for s in job.segments):
            break
    assert [s.seconds for s in upstream.specs] == [12, 12, 8]
    assert upstream.specs[0].reference is None  # the client gave none; a failed frame download only delayed the next
    for index in (1, 2):
        ref = upstream.specs[index].reference
        assert ref is not None and ref.content_type == "image/png" and ref.path
        sent = frames(Path(ref.path))[0]
        expected = last_frame(tmp_path / f"up{index - 1}.mp4").to_ndarray(format="rgb24")
        assert np.array_equal(sent, expected)
    await fetch_and_assemble(job, upstream, content)  # type: ignore[arg-type]
    assert abs(probe_duration(job.content["video"]) - 30.0) < 0.01
    assert Path(job.content["thumbnail"]).name == "thumbnail.webp"  # this upstream has none: made from the film
    leftovers = [p.name for p in content.directory(job.id).rglob("*") if p.is_file()]
    previews = ["spritesheet.jpg", "spritesheet.jpg.sha256", "thumbnail.webp", "thumbnail.webp.sha256"]
    assert sorted(leftovers) == [*previews, "video.mp4", "video.mp4.sha256"]  # parts and reference frames are gone
