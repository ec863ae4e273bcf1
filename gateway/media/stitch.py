"""Join video parts into one MP4, trimmed to an exact length, with PyAV.

The fast path is a remux: packets are copied (no re-encode) with their timestamps shifted by the
length of the parts before them, and a part is cut at a frame boundary by dropping the packets that
start at or after the cut. That is exact and lossless when every part has the same codec parameters
(codec, size, ``extradata``) and the cut drops no frame a kept frame depends on (no B-frame
reordering across the cut, monotonic decode times across the joins). Otherwise every part is decoded
and the whole is re-encoded once (H.264, AAC), frame-exact as well.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import Histogram

from gateway.media.lazy import av
from gateway.observability import REGISTRY, log

if TYPE_CHECKING:
    from av.packet import Packet

STITCH_SECONDS = Histogram(
    "sora_gateway_stitch_duration_seconds",
    "Time to stitch (and trim) a segmented video",
    ["method"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DEFAULT_FPS = Fraction(24)


@dataclass(frozen=True)
class StreamShape:
    """What must match for packets of two files to share one output stream."""

    codec: str
    extradata: bytes
    width: int = 0
    height: int = 0
    rate: int = 0
    channels: int = 0


@dataclass(frozen=True)
class Part:
    path: Path
    video: StreamShape
    audio: StreamShape | None
    start: Fraction  # first presentation time, seconds
    duration: Fraction  # video length, seconds
    fps: Fraction


def _shape(stream: av.stream.Stream) -> StreamShape:
    ctx = stream.codec_context
    extradata = bytes(ctx.extradata or b"")
    if stream.type == "audio":
        return StreamShape(ctx.name, extradata, rate=int(ctx.sample_rate), channels=int(ctx.channels))
    return StreamShape(ctx.name, extradata, width=int(ctx.width), height=int(ctx.height))


def _packets(path: Path, *, audio: bool = False) -> Iterator[Packet]:
    with av.open(str(path)) as container:
        streams = [container.streams.video[0]]
        if audio and container.streams.audio:
            streams.append(container.streams.audio[0])
        for packet in container.demux(*streams):
            if packet.size and packet.pts is not None:
                yield packet


def inspect_part(path: Path) -> Part:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name}: no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        rate = video.average_rate or video.guessed_rate or DEFAULT_FPS
        shapes = (_shape(video), _shape(audio) if audio else None)
    first: Fraction | None = None
    end = Fraction(0)
    for packet in _packets(path):
        tb = Fraction(packet.time_base)
        first = packet.pts * tb if first is None else min(first, packet.pts * tb)
        end = max(end, (packet.pts + (packet.duration or 0)) * tb)
    if first is None:
        raise ValueError(f"{path.name}: no video frames")
    return Part(path, shapes[0], shapes[1], first, end - first, Fraction(rate))


def _budgets(parts: Sequence[Part], seconds: float | None, each: Sequence[float] | None = None) -> list[Fraction]:
    """How many seconds of each part to keep: at most ``each[i]`` of part i (a story scene generated
    longer than asked), and the end cut to reach ``seconds``."""
    caps = [
        min(p.duration, Fraction(each[i]).limit_denominator(1000)) if each is not None and i < len(each) else p.duration
        for i, p in enumerate(parts)
    ]
    if seconds is None:
        return caps
    left = Fraction(seconds).limit_denominator(1000)
    keep = []
    for cap in caps:
        keep.append(max(Fraction(0), min(cap, left)))
        left -= keep[-1]
    return keep


def _kept(part: Part, budget: Fraction) -> Iterator[tuple[Packet, bool]]:
    """(packet, is_video) of ``part`` that start within ``[0, budget)`` of it, in decode order.

    Audio packets before the video's start (AAC priming) are dropped so the joins stay monotonic.
    """
    for packet in _packets(part.path, audio=True):
        at = packet.pts * Fraction(packet.time_base) - part.start
        if 0 <= at < budget or (at < 0 and packet.stream.type == "video"):
            yield packet, packet.stream.type == "video"


def _remux_ok(parts: Sequence[Part], keep: Sequence[Fraction]) -> bool:
    """Whether copying packets gives a correct file: same codec parameters, safe cuts, monotonic joins."""
    if len({p.video for p in parts}) != 1 or len({p.audio for p in parts}) != 1:
        return False
    last_dts: dict[bool, Fraction] = {}
    offset = Fraction(0)
    for part, budget in zip(parts, keep, strict=True):
        dropped = False
        for packet in _packets(part.path, audio=True):
            is_video = packet.stream.type == "video"
            tb = Fraction(packet.time_base)
            at = packet.pts * tb - part.start
            if not is_video:
                if not 0 <= at < budget:
                    continue
            elif at >= budget:
                dropped = True
                continue
            elif dropped:  # a kept frame decodes after a dropped one: it may reference it
                return False
            dts = (packet.dts if packet.dts is not None else packet.pts) * tb - part.start + offset
            if is_video in last_dts and dts <= last_dts[is_video]:
                return False
            last_dts[is_video] = dts
        offset += budget
    return True


def _remux(parts: Sequence[Part], keep: Sequence[Fraction], out: Path) -> None:
    with av.open(str(parts[0].path)) as template, av.open(str(out), "w", format="mp4") as dst:
        ovideo = dst.add_stream_from_template(template.streams.video[0])
        oaudio = dst.add_stream_from_template(template.streams.audio[0]) if parts[0].audio else None
        offset = Fraction(0)
        for part, budget in zip(parts, keep, strict=True):
            for packet, is_video in _kept(part, budget):
                shift = round((offset - part.start) / Fraction(packet.time_base))
                packet.pts += shift
                if packet.dts is not None:
                    packet.dts += shift
                packet.stream = ovideo if is_video else oaudio
                dst.mux(packet)
            offset += budget


def _reencode(parts: Sequence[Part], keep: Sequence[Fraction], out: Path, size: tuple[int, int] | None = None) -> None:
    """Decode every kept frame and encode them once (at ``size``, scaled, when given)."""
    first = parts[0]
    width, height = size or (first.video.width, first.video.height)
    fps = first.fps
    frame_tb = 1 / fps
    with_audio = all(p.audio for p in parts)
    with av.open(str(out), "w", format="mp4") as dst:
        ovideo = dst.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "18"})
        ovideo.width, ovideo.height, ovideo.pix_fmt = width, height, "yuv420p"
        ovideo.codec_context.time_base = frame_tb
        oaudio = None
        resampler = None
        if with_audio and first.audio:
            oaudio = dst.add_stream("aac", rate=first.audio.rate)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=first.audio.rate)
        index = 0
        samples = 0
        for part, budget in zip(parts, keep, strict=True):
            frames_in_part = round(budget * fps)
            with av.open(str(part.path)) as src:
                for taken, frame in enumerate(src.decode(video=0)):
                    if taken >= frames_in_part:
                        break
                    frame = frame.reformat(width=ovideo.width, height=ovideo.height, format="yuv420p")
                    frame.pts, frame.time_base = index, frame_tb
                    dst.mux(ovideo.encode(frame))
                    index += 1
            if oaudio is None or resampler is None:
                continue
            target = round(Fraction(samples) + budget * oaudio.rate)
            with av.open(str(part.path)) as src:
                for aframe in src.decode(audio=0):
                    for chunk in resampler.resample(aframe):
                        take = min(chunk.samples, target - samples)
                        if take <= 0:
                            break
                        chunk.pts, chunk.time_base = samples, Fraction(1, oaudio.rate)
                        dst.mux(oaudio.encode(chunk if take == chunk.samples else _head(chunk, take)))
                        samples += take
        dst.mux(ovideo.encode(None))
        if oaudio is not None:
            dst.mux(oaudio.encode(None))


def _head(frame: av.AudioFrame, samples: int) -> av.AudioFrame:
    planes = frame.to_ndarray()[:, :samples]
    cut = av.AudioFrame.from_ndarray(planes.copy(), format=frame.format.name, layout=frame.layout.name)
    cut.sample_rate, cut.pts, cut.time_base = frame.sample_rate, frame.pts, frame.time_base
    return cut


def stitch_sync(
    parts: Sequence[Path],
    out: Path,
    seconds: float | None = None,
    each: Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
) -> str:
    """Join ``parts`` into ``out`` (MP4) keeping exactly ``seconds`` (all when None) and at most ``each[i]``
    seconds of part i, scaled to ``size`` (width, height) when the parts have another; returns the method."""
    if not parts:
        raise ValueError("nothing to stitch")
    infos = [inspect_part(Path(p)) for p in parts]
    keep = _budgets(infos, seconds, each)
    used = [(info, budget) for info, budget in zip(infos, keep, strict=True) if budget > 0]
    infos, keep = [u[0] for u in used], [u[1] for u in used]
    if size is not None and any((i.video.width, i.video.height) != size for i in infos):
        _reencode(infos, keep, out, size)
        return "scale"
    if len(infos) == 1 and keep[0] == infos[0].duration:
        shutil.copyfile(infos[0].path, out)
        return "copy"
    if _remux_ok(infos, keep):
        _remux(infos, keep, out)
        return "remux"
    _reencode(infos, keep, out)
    return "reencode"


async def stitch_files(
    parts: list[Path],
    out: Path,
    *,
    seconds: float | None = None,
    each: Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
) -> None:
    """``stitch_sync`` in a worker thread, timed (``sora_gateway_stitch_duration_seconds{method}``)."""
    started = time.perf_counter()
    method = await asyncio.to_thread(stitch_sync, parts, out, seconds, each, size)
    elapsed = time.perf_counter() - started
    STITCH_SECONDS.labels(method).observe(elapsed)
    log.info("stitch", parts=len(parts), seconds=seconds, method=method, took_s=round(elapsed, 3))
