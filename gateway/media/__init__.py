"""Media helpers built on PyAV: render small synthetic clips and probe real files."""

from gateway.media.probe import probe_duration, probe_video
from gateway.media.render import (
    Segment,
    preview_size,
    render_spritesheet,
    render_thumbnail,
    render_video,
)

__all__ = [
    "Segment",
    "preview_size",
    "probe_duration",
    "probe_video",
    "render_spritesheet",
    "render_thumbnail",
    "render_video",
]
