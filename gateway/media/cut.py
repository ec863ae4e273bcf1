"""Cut a stretch out of a video: a story's scene out of the finished film, frame-exact, with PyAV.

The stretch ``[start, start + seconds)`` is decoded and re-encoded once (H.264, AAC when the source
has audio), so it starts on a keyframe whatever the source's GOPs; scene clips are short.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.media.lazy import av

if TYPE_CHECKING:
    pass


DEFAULT_FPS = Fraction(24)


def cut_sync(source: Path, out: Path, start: float, seconds: float) -> None:
    """Write ``[start, start + seconds)`` of ``source`` to ``out`` (MP4)."""
    tmp = out.with_name(out.name + ".part.mp4")
    with av.open(str(source)) as src, av.open(str(tmp), "w", format="mp4") as dst:
        vin = src.streams.video[0]
        fps = Fraction(vin.average_rate or vin.guessed_rate or DEFAULT_FPS)
        first, last = (
            round(Fraction(start).limit_denominator(1000) * fps),
            round(Fraction(start + seconds).limit_denominator(1000) * fps),
        )
        vout = dst.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "18"})
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.codec_context.time_base = 1 / fps
        for index, frame in enumerate(src.decode(vin)):
            if index >= last:
                break
            if index < first:
                continue
            frame = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
            frame.pts, frame.time_base = index - first, 1 / fps
            dst.mux(vout.encode(frame))
        dst.mux(vout.encode(None))
    if _has_audio(source):
        _with_audio(source, tmp, out, start, seconds)
        tmp.unlink(missing_ok=True)
    else:
        tmp.replace(out)


def _has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def _with_audio(source: Path, video: Path, out: Path, start: float, seconds: float) -> None:
    """``video``'s packets plus ``source``'s audio samples of the same stretch, into ``out``."""
    with av.open(str(source)) as src, av.open(str(video)) as vsrc, av.open(str(out), "w", format="mp4") as dst:
        ain = src.streams.audio[0]
        rate = int(ain.codec_context.sample_rate)
        vout = dst.add_stream_from_template(vsrc.streams.video[0])
        aout = dst.add_stream("aac", rate=rate)
        for packet in vsrc.demux(vsrc.streams.video[0]):
            if packet.size:
                packet.stream = vout
                dst.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        skip, keep = round(start * rate), round(seconds * rate)
        seen = written = 0
        for frame in src.decode(ain):
            for chunk in resampler.resample(frame):
                lo, hi = seen, seen + chunk.samples
                seen = hi
                begin, end = max(lo, skip), min(hi, skip + keep)
                if end <= begin:
                    continue
                planes = chunk.to_ndarray()[:, begin - lo : end - lo]
                part = av.AudioFrame.from_ndarray(planes.copy(), format=chunk.format.name, layout=chunk.layout.name)
                part.sample_rate, part.pts, part.time_base = rate, written, Fraction(1, rate)
                written += end - begin
                dst.mux(aout.encode(part))
            if seen >= skip + keep:
                break
        dst.mux(aout.encode(None))


async def cut_file(source: Path, out: Path, start: float, seconds: float) -> None:
    await asyncio.to_thread(cut_sync, source, out, start, seconds)
