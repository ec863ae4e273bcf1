"""An input image as Luma's ``ImageRef`` (SDK ``image_ref_param.py``): exactly one of three forms.

``{"url": "https://..."}`` (Luma fetches it), ``{"data": "<base64, no data: prefix>", "media_type": "image/png"}``
(``media_type`` required with ``data``), or ``{"generation_id": "<uuid>"}`` (a prior generation: an extend, not
used here). An upload is sent as ``data``; a client's image URL as ``url`` (a ``data:`` URI is unpacked into
``data`` + ``media_type``). Luma takes JPEG, PNG and WebP (GMI's mirror); anything else is refused before anything
is sent, as is an image over the documented 50 MB (older wording of docs guides/error-handling; later "size
limit", HTTP 413).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from pathlib import Path
from typing import Any

from gateway.core.models import Reference
from gateway.upstreams.base import UpstreamError

MAX_BYTES = 50 * 1024 * 1024
MAGIC: tuple[tuple[bytes, str], ...] = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
_DATA_URI = re.compile(r"^data:(image/[a-z0-9+.-]+);base64,(.*)$", re.DOTALL | re.IGNORECASE)


def image_type(data: bytes) -> str | None:
    """The media type of a JPEG, PNG or WebP picture, from its first bytes (``None``: none of those)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def _refused(message: str, param: str) -> UpstreamError:
    return UpstreamError(400, message, code="invalid_value", param=param)


def inline(data: bytes, param: str) -> dict[str, Any]:
    kind = image_type(data)
    if kind is None:
        raise _refused("Luma takes a JPEG, PNG or WebP image.", param)
    if len(data) > MAX_BYTES:
        raise _refused(f"The image is too large for Luma ({len(data)} bytes; at most {MAX_BYTES}).", param)
    return {"data": base64.b64encode(data).decode("ascii"), "media_type": kind}


def _from_data_uri(uri: str, param: str) -> dict[str, Any]:
    match = _DATA_URI.match(uri)
    if match is None:
        raise _refused("An image data URI must be data:image/...;base64,...", param)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise _refused("The image data URI is not valid base64.", param) from None
    return inline(data, param)


async def image_ref(ref: Reference, param: str = "input_reference") -> dict[str, Any]:
    """``ref`` as an ImageRef; an upload is read and encoded in a worker thread."""
    if ref.path:
        try:
            data = await asyncio.to_thread(Path(str(ref.path)).read_bytes)
        except OSError:
            raise _refused(f"The uploaded file {ref.filename or ''} is no longer available.", param) from None
        return await asyncio.to_thread(inline, data, param)
    url = ref.image_url or ""
    if url.lower().startswith("data:"):
        return await asyncio.to_thread(_from_data_uri, url, param)
    if url.lower().startswith(("https://", "http://")):
        return {"url": url}
    raise _refused("Luma takes an image as an upload or an http(s) URL.", param)
