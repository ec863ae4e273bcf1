"""Unit tests of gateway.media: render synthetic media with PyAV and probe it back."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from gateway.media import (
    Segment,
    preview_size,
    probe_duration,
    probe_video,
    render_spritesheet,
    render_thumbnail,
    render_video,
)

FPS = 10


def _pixels(frame: av.VideoFrame) -> bytes:
    return bytes(frame.reformat(format="rgb24").planes[0])


@pytest.mark.parametrize("seconds", [1, 4, 8, 12, 20])
def test_video_duration_is_exact(tmp_path: Path, seconds: int) -> None:
    path = tmp_path / "clip.mp4"
    render_video(path, [Segment("a red fox in the snow", seconds)], 128, 72, fps=FPS)
    assert abs(probe_duration(path) - seconds) <= 1 / FPS
    info = probe_video(path)
    assert info == {
        "width": 128,
        "height": 72,
        "fps": float(FPS),
        "codec": "h264",
        "frames": seconds * FPS,
        "duration": pytest.approx(seconds, abs=1 / FPS),
    }


def test_video_is_h264_mp4_and_decodes(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    render_video(path, [Segment("city at night", 2)], 72, 128)
    assert path.read_bytes()[4:8] == b"ftyp"
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 2 * FPS
    assert (frames[0].width, frames[0].height) == (72, 128)


def test_segments_are_stitched_in_order(tmp_path: Path) -> None:
    source, extended = tmp_path / "source.mp4", tmp_path / "extended.mp4"
    render_video(source, [Segment("first", 4)], 128, 72)
    render_video(extended, [Segment("first", 4), Segment("second", 8)], 128, 72)
    assert probe_duration(extended) == pytest.approx(12, abs=1 / FPS)
    with av.open(str(source)) as a, av.open(str(extended)) as b:
        first_a = _pixels(next(a.decode(video=0)))
        first_b = _pixels(next(b.decode(video=0)))
    assert first_a == first_b


def test_content_depends_on_prompt_and_salt(tmp_path: Path) -> None:
    paths = [tmp_path / f"{i}.mp4" for i in range(4)]
    render_video(paths[0], [Segment("a cat", 1)], 128, 72)
    render_video(paths[1], [Segment("a cat", 1)], 128, 72)
    render_video(paths[2], [Segment("a dog", 1)], 128, 72)
    render_video(paths[3], [Segment("a cat", 1)], 128, 72, salt="variant-2")
    data = [p.read_bytes() for p in paths]
    assert data[0] == data[1]
    assert data[0] != data[2]
    assert data[0] != data[3]


def test_frames_change_over_time(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    render_video(path, [Segment("moving", 2)], 128, 72)
    with av.open(str(path)) as container:
        frames = [_pixels(f) for f in container.decode(video=0)]
    assert frames[0] != frames[-1]


def test_thumbnail_webp_and_jpeg(tmp_path: Path) -> None:
    webp, jpeg = tmp_path / "t.webp", tmp_path / "t.jpg"
    render_thumbnail(webp, [Segment("sunset", 4)], 128, 72)
    render_thumbnail(jpeg, [Segment("sunset", 4)], 128, 72, kind="jpeg")
    data = webp.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"
    assert (probe_video(webp)["width"], probe_video(webp)["height"]) == (128, 72)


@pytest.mark.parametrize(("seconds", "grid"), [(4, (4, 4)), (1, (4, 3))])
def test_spritesheet_grid(tmp_path: Path, seconds: int, grid: tuple[int, int]) -> None:
    path = tmp_path / "sheet.jpg"
    render_spritesheet(path, [Segment("waves", seconds)], 64, 36, max_frames=16 if seconds > 1 else 10)
    info = probe_video(path)
    assert info["codec"] == "mjpeg"
    assert (info["width"], info["height"]) == (64 * grid[0], 36 * grid[1])


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1280, 720), (128, 72)),
        ((720, 1280), (72, 128)),
        ((1792, 1024), (128, 74)),
        ((854, 480), (128, 72)),
        ((480, 480), (128, 128)),
        ((1920, 1080), (128, 72)),
    ],
)
def test_preview_size_keeps_aspect_with_even_sides(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert preview_size(*size) == expected


def test_probe_rejects_non_media(tmp_path: Path) -> None:
    path = tmp_path / "not-a-video.mp4"
    path.write_bytes(b"hello, this is not a video")
    with pytest.raises((av.error.InvalidDataError, ValueError)):
        probe_video(path)


def test_render_requires_segments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_video(tmp_path / "x.mp4", [], 128, 72)
