"""Measure media files with PyAV (duration, size, frame rate, codec, frame count)."""

from __future__ import annotations

from fractions import Fraction
from os import PathLike
from typing import Any

from gateway.media.lazy import av

StrPath = str | PathLike[str]


def _count_frames(path: StrPath) -> int:
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def probe_video(path: StrPath) -> dict[str, Any]:
    """``{"width", "height", "fps", "codec", "frames", "duration"}`` of the first video stream.

    ``duration`` is in seconds (float). It is taken from the stream header when present,
    else from the container, else from ``frames / fps``.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        frames = int(stream.frames or 0)
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * Fraction(stream.time_base))
        elif container.duration is not None:
            duration = container.duration / av.time_base
        info: dict[str, Any] = {
            "width": int(ctx.width),
            "height": int(ctx.height),
            "fps": fps,
            "codec": ctx.name,
        }
    if frames == 0:
        frames = _count_frames(path)
    if duration is None:
        duration = frames / fps if fps else 0.0
    info["frames"] = frames
    info["duration"] = duration
    return info


def probe_duration(path: StrPath) -> float:
    """Duration of the media file in seconds."""
    with av.open(str(path)) as container:
        for stream in container.streams.video:
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * Fraction(stream.time_base))
        if container.duration is not None:
            return container.duration / av.time_base
    return float(probe_video(path)["duration"])
