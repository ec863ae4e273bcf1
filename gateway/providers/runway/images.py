"""An uploaded image as Runway's ``promptImage`` data URI (docs.dev.runwayml.com/assets/inputs).

Runway takes JPEG, PNG and WebP, as a data URI of at most 5 MB *encoded*. A larger picture (a 1080p
last frame kept as PNG may be) is re-encoded once as JPEG; one still too large, or of another type,
is refused before anything is sent (no generation is paid for).
"""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

from gateway.core.models import Reference
from gateway.media.lazy import av
from gateway.upstreams.base import UpstreamError

MAX_DATA_URI = 5 * 1024 * 1024
MAGIC: tuple[tuple[bytes, str], ...] = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
JPEG_QUALITY = 4  # mjpeg qscale: 2 (best) .. 31


def image_type(data: bytes) -> str | None:
    """The media type of a JPEG, PNG or WebP picture, from its first bytes (``None``: none of those)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def as_jpeg(data: bytes) -> bytes:
    """The first picture in ``data`` re-encoded as a JPEG of the same size."""
    with av.open(io.BytesIO(data)) as source:
        frame = next(source.decode(video=0))
    out = io.BytesIO()
    with av.open(out, "w", format="mjpeg") as container:
        stream = container.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuvj420p"
        stream.codec_context.qscale = JPEG_QUALITY
        picture = frame.reformat(format="yuvj420p")
        picture.pts = 0
        container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return out.getvalue()


def _uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _encode(data: bytes) -> str:
    kind = image_type(data)
    if kind is None:
        raise UpstreamError(
            400, "Runway takes a JPEG, PNG or WebP image.", code="invalid_value", param="input_reference"
        )
    uri = _uri(kind, data)
    if len(uri) > MAX_DATA_URI and kind != "image/jpeg":
        uri = _uri("image/jpeg", as_jpeg(data))
    if len(uri) > MAX_DATA_URI:
        raise UpstreamError(
            400,
            f"The image is too large for Runway ({len(uri)} bytes as a data URI; at most {MAX_DATA_URI}).",
            code="invalid_value",
            param="input_reference",
        )
    return uri


async def data_uri(ref: Reference) -> str:
    """The kept upload ``ref`` as a ``data:image/...;base64,...`` URI (read and encoded in a worker thread)."""
    try:
        data = await asyncio.to_thread(Path(str(ref.path)).read_bytes)
    except OSError:
        raise UpstreamError(400, f"The uploaded file {ref.filename or ''} is no longer available.") from None
    return await asyncio.to_thread(_encode, data)
