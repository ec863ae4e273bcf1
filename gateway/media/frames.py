"""Single frames out of a video: the last frame of a segment, as the next segment's ``input_reference``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gateway.media.lazy import av

if TYPE_CHECKING:
    from av.video.frame import VideoFrame


def last_frame(video: Path) -> VideoFrame:
    """The last displayed frame (seeks to the last keyframe first, so long clips decode only one GOP)."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.duration:
            container.seek(int(stream.duration), stream=stream, backward=True, any_frame=False)
        frame: VideoFrame | None = None
        for frame in container.decode(stream):  # noqa: B007 - we want the last one
            pass
    if frame is None:
        raise ValueError(f"{video.name}: no frames")
    return frame


def write_png(frame: VideoFrame, out: Path) -> None:
    rgb = frame.reformat(format="rgb24")
    with av.open(str(out), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = rgb.width, rgb.height, "rgb24"
        rgb.pts = 0
        container.mux(stream.encode(rgb))
        container.mux(stream.encode(None))


def last_frame_png(video: Path, out: Path) -> None:
    """Write the last frame of ``video`` to ``out`` as a PNG of the video's own size."""
    tmp = out.with_name(out.name + ".part.png")
    write_png(last_frame(video), tmp)
    tmp.replace(out)
