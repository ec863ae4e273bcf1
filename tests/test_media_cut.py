"""A story's media pieces: a scene cut out of the film (with and without audio), per-part stitch budgets."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from gateway.media.cut import cut_sync
from gateway.media.probe import probe_duration
from gateway.media.render import Segment as Clip
from gateway.media.render import render_video
from gateway.media.stitch import stitch_sync


def video_with_audio(path: Path, seconds: int, fps: int = 10, rate: int = 16000) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=rate)
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 7) % 255, dtype=np.uint8), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        t = np.arange(seconds * rate) / rate
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = np.stack([samples[start : start + 1024]] * 2)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate


def test_cut_takes_a_frame_exact_stretch_from_the_middle(tmp_path: Path) -> None:
    film = tmp_path / "film.mp4"
    render_video(film, [Clip("scene one", 4), Clip("scene two", 8), Clip("scene three", 4)], 96, 64)
    for start, seconds in ((0, 4), (4, 8), (12, 4)):
        out = tmp_path / f"cut-{start}.mp4"
        cut_sync(film, out, start, seconds)
        assert probe_duration(out) == pytest.approx(seconds, abs=0.01)
    middle, first = (tmp_path / "cut-4.mp4").read_bytes(), (tmp_path / "cut-0.mp4").read_bytes()
    assert middle != first


def test_cut_keeps_the_audio_of_the_same_stretch(tmp_path: Path) -> None:
    source = tmp_path / "av.mp4"
    video_with_audio(source, 4)
    out = tmp_path / "scene.mp4"
    cut_sync(source, out, 1, 2)
    assert probe_duration(out) == pytest.approx(2.0, abs=0.01)
    assert audio_seconds(out) == pytest.approx(2.0, abs=0.1)


def test_stitch_keeps_at_most_each_parts_budget(tmp_path: Path) -> None:
    parts = []
    for i, seconds in enumerate((8, 4)):
        parts.append(tmp_path / f"p{i}.mp4")
        render_video(parts[-1], [Clip(f"part {i}", seconds)], 96, 64)
    out = tmp_path / "story.mp4"
    stitch_sync(parts, out, seconds=8, each=[5, 4])  # a 5 s scene generated as 8 s, then a 3 s one as 4 s
    assert probe_duration(out) == pytest.approx(8.0, abs=0.01)
    cut_sync(out, tmp_path / "second.mp4", 5, 3)  # the second scene starts where the first was trimmed
    assert probe_duration(tmp_path / "second.mp4") == pytest.approx(3.0, abs=0.01)
