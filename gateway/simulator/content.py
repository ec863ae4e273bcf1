"""Render a job's media on first request (in a thread), cache it on disk, serve byte ranges.

Media kinds: ``video`` (H.264 MP4), ``thumbnail`` (WebP), ``thumbnail_jpeg``, ``spritesheet`` (JPEG);
a provider maps its own variant names onto them. Pictures are small stand-ins (the long side 128 px,
the job's aspect) unless a profile asks for real pixel sizes.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from gateway.media.render import (
    IMAGE_MEDIA_TYPES,
    preview_size,
    render_spritesheet,
    render_thumbnail,
    render_video,
)
from gateway.simulator.errors import SimError
from gateway.simulator.jobs import Job

# media kind -> (file suffix, media type, renderer)
Renderer = Callable[..., None]
MEDIA: dict[str, tuple[str, str, Renderer]] = {
    "video": ("mp4", "video/mp4", render_video),
    "thumbnail": ("webp", IMAGE_MEDIA_TYPES["webp"], render_thumbnail),
    "thumbnail_jpeg": ("jpg", IMAGE_MEDIA_TYPES["jpeg"], render_thumbnail),
    "spritesheet": ("jpg", IMAGE_MEDIA_TYPES["jpeg"], render_spritesheet),
}
RENDER_KWARGS: dict[str, dict[str, str]] = {"thumbnail_jpeg": {"kind": "jpeg"}}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ContentStore:
    """Media files of completed jobs under one temporary directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="sora-sim-"))
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(
        self, job: Job, media: str, index: int = 0, *, width: int | None = None, height: int | None = None
    ) -> tuple[Path, str]:
        """(path, media type) of ``media`` of ``job`` (its variant ``index``), rendering once.

        ``width`` x ``height``: the pixel size to render (default: a stand-in, long side 128 px).
        """
        suffix, media_type, renderer = MEDIA[media]
        path = self.root / f"{job.id}-{index}-{media}.{suffix}"
        lock = self._locks.setdefault(str(path), asyncio.Lock())
        async with lock:
            if not path.exists():
                if width is None or height is None:
                    width, height = preview_size(job.width, job.height)
                tmp = path.with_name("tmp-" + path.name)
                kwargs = {"salt": f"{job.id}:{index}" if index else "", **RENDER_KWARGS.get(media, {})}
                await asyncio.to_thread(renderer, tmp, job.segments, width, height, **kwargs)
                tmp.replace(path)
        return path, media_type

    def forget(self, job_id: str) -> None:
        for path in self.root.glob(f"{job_id}-*"):
            path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single ``bytes=a-b`` range; None to send everything."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # multiple or malformed ranges: RFC 9110 allows ignoring Range
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise SimError(
            416,
            f"Requested range not satisfiable: {header} (size {size}).",
            param="Range",
            code="range_not_satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def file_response(request: Request, path: Path, media_type: str) -> Response:
    """The file, or the requested byte range of it (206), with exact Content-Length."""
    data = path.read_bytes()
    headers = {"Accept-Ranges": "bytes"}
    header = request.headers.get("range")
    span = _parse_range(header, len(data)) if header else None
    if span is None:
        return Response(data, media_type=media_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)
