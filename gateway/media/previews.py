"""Previews derived from a finished video, for providers that make none (Kling, Seedance, Wan, Runway, ...).

The formats are the official ``/v1/videos`` API's: ``variant=thumbnail`` is a WebP still (one frame a third of
the way in, the video's own aspect), ``variant=spritesheet`` a JPEG grid of frames sampled evenly over the
video (4 columns, up to 16 cells, row-major) — what the OpenAI profile of the simulator serves, too. Each cell
keeps the video's aspect; the long side of a cell is :data:`CELL_LONG_SIDE`.

Decoding seeks to the keyframe before each wanted time, so a long video costs a few GOPs, not a full decode.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.content.space import is_space_error
from gateway.media.lazy import av, numpy
from gateway.observability import PREVIEWS_DERIVED, log

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

THUMBNAIL_AT = 1 / 3  # of the duration
THUMBNAIL_LONG_SIDE = 1280  # never larger than the video itself
CELL_LONG_SIDE = 256
COLUMNS = 4
MAX_CELLS = 16

# variant -> (file extension, container format, codec, pixel format)
FORMATS: dict[str, tuple[str, str, str, str]] = {
    "thumbnail": ("webp", "webp", "libwebp", "yuv420p"),
    "spritesheet": ("jpg", "image2", "mjpeg", "yuvj420p"),
}


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``width x height`` scaled down (never up) so the longer side is at most ``long_side`` (even sides)."""
    scale = min(1.0, long_side / max(width, height))
    return _even(width * scale), _even(height * scale)


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def frames_at(video: Path, fractions: list[float]) -> list[VideoFrame]:
    """One decoded frame at (or just after) each fraction of the duration, in the order asked."""
    out: list[VideoFrame] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        duration = _duration(container, stream)
        base = stream.time_base
        last: VideoFrame | None = None
        for fraction in fractions:
            wanted = max(0.0, duration * fraction)
            frame = None
            if base:
                container.seek(int(wanted / base), stream=stream, backward=True, any_frame=False)
            for decoded in container.decode(stream):
                frame = decoded
                if decoded.time is None or decoded.time + 1e-6 >= wanted:
                    break
            frame = frame or last  # past the end: the last frame there is
            if frame is None:
                raise ValueError(f"{video.name}: no frames")
            out.append(frame)
            last = frame
    return out


def _write(frame: VideoFrame, out: Path, variant: str) -> None:
    _ext, fmt, codec, pix_fmt = FORMATS[variant]
    tmp = out.with_name(out.name + ".part")
    with av.open(str(tmp), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, pix_fmt
        image = frame.reformat(format=pix_fmt)
        image.pts = 0
        container.mux(stream.encode(image))
        container.mux(stream.encode(None))
    tmp.replace(out)


def write_thumbnail(video: Path, out: Path) -> None:
    """A WebP of the frame a third of the way in, at the video's aspect."""
    (frame,) = frames_at(video, [THUMBNAIL_AT])
    width, height = fit(frame.width, frame.height, THUMBNAIL_LONG_SIDE)
    _write(frame.reformat(width=width, height=height), out, "thumbnail")


def write_spritesheet(video: Path, out: Path, cells: int = MAX_CELLS, columns: int = COLUMNS) -> None:
    """A JPEG grid of ``cells`` frames sampled evenly (row-major, ``columns`` wide)."""
    frames = frames_at(video, [i / cells for i in range(cells)])
    width, height = fit(frames[0].width, frames[0].height, CELL_LONG_SIDE)
    cols = min(columns, len(frames))
    rows = math.ceil(len(frames) / cols)
    sheet = numpy.zeros((height * rows, width * cols, 3), dtype=numpy.uint8)  # black where a row is not full
    for index, frame in enumerate(frames):
        top, left = (index // cols) * height, (index % cols) * width
        sheet[top : top + height, left : left + width] = frame.reformat(
            width=width, height=height, format="rgb24"
        ).to_ndarray()
    _write(av.VideoFrame.from_ndarray(sheet, format="rgb24"), out, "spritesheet")


WRITERS = {"thumbnail": write_thumbnail, "spritesheet": write_spritesheet}


def derive_preview(video: Path, directory: Path, variant: str) -> Path:
    """Write ``variant`` of ``video`` into ``directory`` (``derived-<variant>.<ext>``) and return its path."""
    out = directory / f"derived-{variant}.{FORMATS[variant][0]}"
    try:
        WRITERS[variant](video, out)
    except BaseException:  # nothing half-written stays in scratch (the janitor would take it for work going on)
        out.unlink(missing_ok=True)
        out.with_name(out.name + ".part").unlink(missing_ok=True)
        raise
    return out


async def derive_previews(video: Path, directory: Path, variants: tuple[str, ...], video_id: str) -> dict[str, str]:
    """Each of ``variants`` derived from ``video`` in a worker thread: variant -> path, ``""`` where it failed.

    A failure is logged and counted, never raised: a missing preview is a 404 on that variant, not a failed job.
    """
    made: dict[str, str] = {}
    for variant in variants:
        try:
            made[variant] = str(await asyncio.to_thread(derive_preview, video, directory, variant))
        except Exception as exc:  # a video PyAV cannot read, a full disk: the job completes without it
            if is_space_error(exc):
                raise  # the caller waits for space (the preview is made on the next try)
            log.warning("preview_derive_failed", video_id=video_id, variant=variant, error=repr(exc))
            PREVIEWS_DERIVED.labels(variant, "failed").inc()
            made[variant] = ""
        else:
            PREVIEWS_DERIVED.labels(variant, "derived").inc()
    return made
