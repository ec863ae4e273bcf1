"""Transcode a finished MP4 to WebM (VP9 video, Opus audio) for clients that ask ``output_format: webm``."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.media.lazy import av

if TYPE_CHECKING:
    pass


VP9_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "32", "b": "0"}
OPUS_RATE = 48000


def webm_available() -> bool:
    """Whether this PyAV build can encode VP9 and Opus."""
    try:
        av.Codec("libvpx-vp9", "w")
        av.Codec("libopus", "w")
    except Exception:
        return False
    return True


class WebmSupport:
    """Whether WebM may be asked for: ``wanted`` (``webm_enabled``) and this PyAV build encodes VP9 and Opus.

    Found out the first time it is asked (a WebM request, ``/v1/models``), not at start: the check loads PyAV.
    """

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self._known: bool | None = None if wanted else False

    def __bool__(self) -> bool:
        if self._known is None:
            self._known = webm_available()
        return self._known


def transcode_webm_sync(src: Path, out: Path) -> None:
    """Re-encode ``src`` into ``out`` frame for frame (same size and frame rate, same duration)."""
    with av.open(str(src)) as source, av.open(str(out), "w", format="webm") as dst:
        vin = source.streams.video[0]
        fps = Fraction(vin.average_rate or vin.guessed_rate or 24)
        vout = dst.add_stream("libvpx-vp9", rate=fps, options=VP9_OPTIONS)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.codec_context.time_base = 1 / fps
        for index, frame in enumerate(source.decode(vin)):
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = index, 1 / fps
            dst.mux(vout.encode(frame))
        dst.mux(vout.encode(None))
    if not _has_audio(src):
        return
    _add_audio(src, out)


def _has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def _add_audio(src: Path, out: Path) -> None:
    """Mux the video just written with ``src``'s audio re-encoded to Opus."""
    video_only = out.with_name(out.stem + ".video.webm")
    out.replace(video_only)
    with av.open(str(video_only)) as vsrc, av.open(str(src)) as asrc, av.open(str(out), "w", format="webm") as dst:
        vout = dst.add_stream_from_template(vsrc.streams.video[0])
        aout = dst.add_stream("libopus", rate=OPUS_RATE)
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=OPUS_RATE)
        for packet in vsrc.demux(vsrc.streams.video[0]):
            if packet.size:
                packet.stream = vout
                dst.mux(packet)
        samples = 0
        for frame in asrc.decode(audio=0):
            for chunk in resampler.resample(frame):
                chunk.pts, chunk.time_base = samples, Fraction(1, OPUS_RATE)
                samples += chunk.samples
                dst.mux(aout.encode(chunk))
        dst.mux(aout.encode(None))
    video_only.unlink(missing_ok=True)


async def transcode_webm(src: Path, out: Path) -> None:
    await asyncio.to_thread(transcode_webm_sync, src, out)
