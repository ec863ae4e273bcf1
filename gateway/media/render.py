"""Render small synthetic media with PyAV: H.264 MP4 clips, thumbnails, spritesheets.

A clip is a list of :class:`Segment` s (prompt, seconds) played one after the other,
so an extended video starts with exactly the frames of its source. Pictures are
derived from a hash of each segment's prompt (colours, stripe, motion) and from the
frame index, so different prompts give different bytes and the picture changes
over time. Frame counts are exact: ``round(seconds * fps)`` frames per segment, and
the MP4 duration equals ``frames / fps``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from typing import TYPE_CHECKING

from gateway.media.lazy import av

if TYPE_CHECKING:
    from av.video.frame import VideoFrame


StrPath = str | PathLike[str]
DEFAULT_FPS = 10
PREVIEW_LONG_SIDE = 128

# image kind -> (container format, codec, pixel format)
IMAGE_FORMATS: dict[str, tuple[str, str, str]] = {
    "webp": ("webp", "libwebp", "yuv420p"),
    "jpeg": ("image2", "mjpeg", "yuvj420p"),
}
IMAGE_MEDIA_TYPES: dict[str, str] = {"webp": "image/webp", "jpeg": "image/jpeg"}


@dataclass(frozen=True)
class Segment:
    """A stretch of video generated from one prompt."""

    prompt: str
    seconds: float


@dataclass(frozen=True)
class _Look:
    background: bytes
    foreground: bytes
    speed: int
    band_top: int
    band_height: int
    block: int


def preview_size(width: int, height: int, long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int]:
    """Scale ``width x height`` so the longer side is ``long_side``, keeping the aspect (even sides)."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    scale = long_side / max(width, height)

    def even(value: float) -> int:
        return max(2, round(value / 2) * 2)

    return even(width * scale), even(height * scale)


def _look(prompt: str, salt: str, width: int, height: int) -> _Look:
    digest = hashlib.sha256(f"{salt}\0{prompt}".encode()).digest()
    background = digest[0:3]
    foreground = bytes(b ^ 0xC0 for b in digest[3:6])
    band_height = max(2, height // 3)
    return _Look(
        background=background,
        foreground=foreground,
        speed=1 + digest[6] % 4,
        band_top=digest[7] % max(1, height - band_height),
        band_height=band_height,
        block=max(2, width // 8),
    )


class _Timeline:
    """Maps a global frame index to (segment look, index inside the segment)."""

    def __init__(self, segments: Sequence[Segment], width: int, height: int, fps: int, salt: str) -> None:
        if not segments:
            raise ValueError("at least one segment is needed")
        self.width, self.height, self.fps = width, height, fps
        self.looks = [_look(s.prompt, salt, width, height) for s in segments]
        self.counts = [max(1, round(s.seconds * fps)) for s in segments]
        self.total = sum(self.counts)

    def locate(self, index: int) -> tuple[_Look, int]:
        for look, count in zip(self.looks, self.counts, strict=True):
            if index < count:
                return look, index
            index -= count
        return self.looks[-1], self.counts[-1] - 1

    def rows(self, index: int) -> list[bytes]:
        """RGB24 rows (``width * 3`` bytes each) of frame ``index`` (the bottom bar counts frames)."""
        look, local = self.locate(index)
        width, height = self.width, self.height
        shade = (index * 3) % 256
        bg = bytes([(look.background[0] + shade) % 256, look.background[1], look.background[2]])
        travel = max(1, width - look.block)
        x = (local * look.speed) % travel
        plain = bg * width
        band = bg * x + look.foreground * look.block + bg * (width - look.block - x)
        filled = index % width + 1
        bar = b"\xff\xff\xff" * filled + b"\x00\x00\x00" * (width - filled)
        out: list[bytes] = []
        for y in range(height):
            if y >= height - 2:
                out.append(bar)
            elif look.band_top <= y < look.band_top + look.band_height:
                out.append(band)
            else:
                out.append(plain)
        return out


def _frame(rows: Sequence[bytes], width: int, height: int) -> VideoFrame:
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    pad = bytes(plane.line_size - width * 3)
    plane.update(b"".join(row + pad for row in rows) if pad else b"".join(rows))
    return frame


def render_video(
    path: StrPath,
    segments: Sequence[Segment],
    width: int,
    height: int,
    *,
    fps: int = DEFAULT_FPS,
    salt: str = "",
) -> None:
    """Write an H.264 MP4 of exactly ``sum(round(seconds*fps))`` frames at ``fps``."""
    timeline = _Timeline(segments, width, height, fps, salt)
    options = {"preset": "ultrafast", "bf": "0", "g": str(fps * 2), "crf": "30"}
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for index in range(timeline.total):
            frame = _frame(timeline.rows(index), width, height).reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_image(path: StrPath, rows: Sequence[bytes], width: int, height: int, kind: str) -> None:
    fmt, codec, pix_fmt = IMAGE_FORMATS[kind]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        frame = _frame(rows, width, height).reformat(format=pix_fmt)
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def render_thumbnail(
    path: StrPath,
    segments: Sequence[Segment],
    width: int,
    height: int,
    *,
    fps: int = DEFAULT_FPS,
    salt: str = "",
    kind: str = "webp",
) -> None:
    """Write the middle frame of the clip as a still image (``kind``: webp or jpeg)."""
    timeline = _Timeline(segments, width, height, fps, salt)
    _write_image(path, timeline.rows(timeline.total // 2), width, height, kind)


def render_spritesheet(
    path: StrPath,
    segments: Sequence[Segment],
    width: int,
    height: int,
    *,
    fps: int = DEFAULT_FPS,
    salt: str = "",
    columns: int = 4,
    max_frames: int = 16,
    kind: str = "jpeg",
) -> None:
    """Write a grid of frames sampled evenly over the clip (``columns`` wide, row-major)."""
    timeline = _Timeline(segments, width, height, fps, salt)
    count = max(1, min(max_frames, timeline.total))
    cols = min(columns, count)
    grid_rows = math.ceil(count / cols)
    picks = [timeline.rows(i * timeline.total // count) for i in range(count)]
    blank = [b"\x00" * (width * 3)] * height
    out: list[bytes] = []
    for r in range(grid_rows):
        cells = [picks[r * cols + c] if r * cols + c < count else blank for c in range(cols)]
        out.extend(b"".join(cell[y] for cell in cells) for y in range(height))
    _write_image(path, out, width * cols, height * grid_rows, kind)
