"""When every segment is done: fetch the media once, stitch if needed, mark the job completed."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.content import LocalContentStore
from gateway.content.local import MEDIA_TYPES
from gateway.core.models import Job, SegStatus, Status
from gateway.jobs.continuity import drop_references, fetch_part
from gateway.observability import COST_USD, VIDEO_SECONDS
from gateway.upstreams.base import Upstream, UpstreamError

PREVIEWS = ("thumbnail", "spritesheet")
EXTENSIONS_BY_TYPE = {media_type: ext for ext, media_type in MEDIA_TYPES.items()}


def needs_stitch(job: Job) -> bool:
    """Chained generations are concatenated; an extension chain's last video already holds the whole."""
    return len(job.segments) > 1 and any(s.kind != "extend" for s in job.segments[1:])


async def _download(
    upstream: Upstream,
    content: LocalContentStore,
    job_id: str,
    upstream_id: str,
    variant: str,
    *,
    as_variant: str | None = None,
    ext: str | None = None,
) -> Path:
    stream = await upstream.open_content(upstream_id, variant)
    media_type = stream.headers.get("content-type", "").split(";")[0].strip().lower()
    ext = ext or EXTENSIONS_BY_TYPE.get(media_type)  # e.g. Azure's thumbnails are JPEG, OpenAI's WebP
    try:
        stored = await content.write(job_id, as_variant or variant, stream.chunks, ext)
    finally:
        await stream.close()
    return stored.path


async def _assemble_video(job: Job, upstream: Upstream, content: LocalContentStore) -> str:
    """The one video the client gets: stitched from chained parts, trimmed to the asked length, transcoded."""
    trim = job.requested.get("trim_seconds")
    webm = job.requested.get("output_format") == "webm"
    segments = job.segments if needs_stitch(job) else [job.segments[-1]]
    if len(segments) == 1 and not trim and not webm:
        return str(await _download(upstream, content, job.id, str(segments[0].upstream_id), "video"))
    from gateway.media.stitch import stitch_files
    from gateway.media.transcode import transcode_webm

    parts = [await fetch_part(job, seg, upstream, content) for seg in segments]
    video = parts[0]
    if len(parts) > 1 or trim:
        video = content.scratch(job.id) / "video.mp4"
        await stitch_files(parts, video, seconds=float(trim) if trim else None)
    if webm:
        encoded = content.scratch(job.id) / "video.webm"
        await transcode_webm(video, encoded)
        video = encoded
    stored = await content.adopt(job.id, "video", video)
    for path in {*parts, content.scratch(job.id) / "video.mp4"}:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
    for seg in segments:
        seg.content_path = None
    drop_references(job)
    return str(stored.path)


async def fetch_and_assemble(job: Job, upstream: Upstream, content: LocalContentStore) -> None:
    """Download (and stitch) the job's media into the content store; raises UpstreamError to retry later."""
    if "video" not in job.content:
        job.content["video"] = await _assemble_video(job, upstream, content)
    first = job.segments[0]
    for variant in PREVIEWS:
        if variant in job.content:
            continue
        try:
            job.content[variant] = str(await _download(upstream, content, job.id, str(first.upstream_id), variant))
        except UpstreamError as exc:
            if exc.retryable:
                raise
            job.content[variant] = ""  # the upstream has no such preview


def mark_completed(job: Job, retention_s: int) -> None:
    now = int(time.time())
    job.status = Status.COMPLETED
    job.progress = 100
    job.completed_at = now
    job.expires_at = now + retention_s
    job.error = None
    VIDEO_SECONDS.labels(job.tenant, job.model).inc(float(job.seconds))
    COST_USD.labels(job.tenant, job.model).inc(job.cost_usd)


def all_segments_done(job: Job) -> bool:
    return all(s.status == SegStatus.COMPLETED for s in job.segments)
