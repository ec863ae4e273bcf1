"""Ark's wire format for Seedance: the create body from a :class:`GenerationSpec`, a task back.

Create (``POST {base}/contents/generations/tasks``), the "new method" of docs.byteplus.com/en/docs/ModelArk/1520757:
output settings as top-level fields, strictly validated (not the legacy ``--rs 720p --dur 5`` prompt suffixes)::

    {"model": "dreamina-seedance-2-0-fast-260128",
     "content": [{"type": "text", "text": "..."},
                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}, "role": "first_frame"},
                 {"type": "image_url", "image_url": {"url": "..."}, "role": "last_frame"}],
     "ratio": "16:9", "resolution": "720p", "duration": 8, "seed": 11, "generate_audio": true,
     "watermark": false, "callback_url": "https://..."}

``duration`` and ``seed`` are JSON integers, ``generate_audio`` / ``watermark`` booleans. ``seed`` goes only to
models that take it (not the 2.0 series), ``generate_audio: true`` only to those with audio (1.5 pro, 2.0):
Sora 2 makes sound. ``watermark: false`` is sent so no "AI generated" mark is added. An uploaded image is a
``data:image/<type>;base64,`` URI (lowercase subtype, under 30 MB); an image URL is passed as it is.

A task (GET, and the callback body): ``{"id", "model", "status": queued|running|succeeded|failed|cancelled|
expired, "error": null | {"code", "message"}, "content": {"video_url"}, "ratio", "resolution", "duration",
"created_at", "updated_at", ...}``. The prompt is not in it, so a listing cannot tell which create a task
came from: the adapter does not list (a create whose answer was lost is never re-sent blind).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from gateway.core.models import Reference
from gateway.providers.ark_seedance.errors import task_error
from gateway.providers.ark_seedance.table import SHAPE_PARAMS, WIRE, frames_of
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo

MAX_IMAGE_BYTES = 30 * 1024 * 1024  # "less than 30 MB"
MAX_BODY_BYTES = 64 * 1024 * 1024  # the whole request body
POLL_HINT_MS = 5000  # tasks take from ~30 s to minutes; the vendor's examples poll every few seconds
STATUSES: dict[str, str] = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
    "expired": "failed",
}
# first bytes -> the MIME type Ark is told (subtype in lowercase, as it requires)
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def refuse(message: str, param: str, code: str = "invalid_value") -> UpstreamError:
    return UpstreamError(400, message, type="invalid_request_error", code=code, param=param)


def image_type(data: bytes) -> str | None:
    """The MIME type of a picture Ark takes, from its first bytes (None: not one of them)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypheif"):
        return "image/heic"
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


async def image_url(ref: Reference, param: str) -> str:
    """``image_url.url`` of an image item: an upload as a data URI, a URL as it is."""
    if ref.path:
        try:
            data = await asyncio.to_thread(Path(ref.path).read_bytes)
        except OSError:
            raise refuse(f"The uploaded file {ref.filename or ''} is no longer available.", param) from None
        kind = image_type(data)
        if kind is None:
            raise refuse("Seedance takes a JPEG, PNG, WebP, BMP, TIFF, GIF or HEIC image.", param)
        if len(data) >= MAX_IMAGE_BYTES:
            raise refuse(f"The image is too large for Seedance ({len(data)} bytes; under 30 MB).", param)
        encoded = await asyncio.to_thread(base64.b64encode, data)
        return f"data:{kind};base64,{encoded.decode('ascii')}"
    if ref.image_url and ref.image_url.lower().startswith(("https://", "http://", "asset://")):
        return ref.image_url
    raise refuse("Seedance takes an uploaded image or an http(s) image URL.", param, "unsupported_by_upstream")


def _check(spec: GenerationSpec) -> tuple[str, str]:
    """(ratio, resolution) of the spec's shape; refuses (400) what Ark would refuse, before anything is paid."""
    if spec.kind != "create":
        raise refuse(f"Seedance on Ark has no {spec.kind} operation.", "video_id", "unsupported_by_upstream")
    wire = WIRE.get(spec.model)
    params = SHAPE_PARAMS.get(spec.model, {}).get(spec.size)
    if wire is None or params is None:
        raise refuse(f"Seedance model {spec.model!r} does not make {spec.size}.", "size")
    low, high = wire.durations
    if not low <= spec.seconds <= high:
        raise refuse(f"Seedance {spec.model} makes {low} to {high} s clips, not {spec.seconds}.", "seconds")
    if spec.last_frame is not None:
        if not wire.first_last:
            raise refuse(f"Seedance {spec.model} takes no last frame.", "last_frame", "unsupported_by_upstream")
        if spec.reference is None:
            raise refuse("Seedance takes a last frame only with a first frame (input_reference).", "last_frame")
    return params


async def create_body(spec: GenerationSpec) -> dict[str, Any]:
    """The JSON body of one create (``POST /contents/generations/tasks``)."""
    ratio, resolution = _check(spec)
    wire = WIRE[spec.model]
    content: list[dict[str, Any]] = [{"type": "text", "text": spec.prompt}]
    if spec.reference is not None:
        url = await image_url(spec.reference, "input_reference")
        content.append({"type": "image_url", "image_url": {"url": url}, "role": "first_frame"})
    if spec.last_frame is not None:
        url = await image_url(spec.last_frame, "last_frame")
        content.append({"type": "image_url", "image_url": {"url": url}, "role": "last_frame"})
    if sum(len(item.get("image_url", {}).get("url", "")) for item in content) > MAX_BODY_BYTES - 65536:
        raise refuse("The images are too large for one Seedance request (64 MB in all).", "input_reference")
    body: dict[str, Any] = {
        "model": spec.model,
        "content": content,
        "ratio": ratio,
        "resolution": resolution,
        "duration": spec.seconds,  # a JSON integer
    }
    if spec.seed is not None and wire.seed:
        body["seed"] = spec.seed
    if wire.audio:
        body["generate_audio"] = True
    body["watermark"] = False
    if spec.callback_url:
        body["callback_url"] = spec.callback_url
    return body


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_task(data: Any) -> UpstreamVideo:
    """A task object (GET, a listing item, a callback body) in the gateway's words; its video URL in
    ``content_ids["video"]``."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise UpstreamError(502, "Ark answered a task without an id.", code="upstream_error")
    raw = str(data.get("status") or "queued")
    status = STATUSES.get(raw, "in_progress")
    content = data.get("content") if isinstance(data.get("content"), dict) else {}
    url = content.get("video_url") if isinstance(content.get("video_url"), str) else None
    error = task_error(raw, data.get("error"))
    if status == "completed" and not url:
        status = "failed"
        error = {"code": "output_missing", "message": "Ark Seedance: the task succeeded without a video_url."}
    model = data.get("model") if isinstance(data.get("model"), str) else None
    ratio, resolution, duration = data.get("ratio"), data.get("resolution"), _int(data.get("duration"))
    size = (
        frames_of(model, ratio, resolution)
        if model and isinstance(ratio, str) and isinstance(resolution, str)
        else None
    )
    created = _int(data.get("created_at"))
    return UpstreamVideo(
        id=data["id"],
        status=status,
        progress=100 if status == "completed" else 0,
        error=error,
        seconds=str(duration) if duration is not None and duration > 0 else None,
        size=size,
        model=model,
        poll_after_ms=POLL_HINT_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": url} if status == "completed" and url else {},
        created_at=float(created) if created is not None else None,
    )
