"""When every segment is done: fetch the media once, stitch if needed, mark the job completed."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.content import LocalContentStore
from gateway.core.models import Job, SegStatus, Status
from gateway.observability import COST_USD, VIDEO_SECONDS, log
from gateway.upstreams.base import Upstream, UpstreamError

PREVIEWS = ("thumbnail", "spritesheet")


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
    try:
        stored = await content.write(job_id, as_variant or variant, stream.chunks, ext)
    finally:
        await stream.close()
    return stored.path


async def fetch_and_assemble(job: Job, upstream: Upstream, content: LocalContentStore) -> None:
    """Download (and stitch) the job's media into the content store; raises UpstreamError to retry later."""
    if "video" not in job.content:
        if needs_stitch(job):
            from gateway.media.stitch import stitch_files

            parts = []
            for seg in job.segments:
                if not seg.content_path or not Path(seg.content_path).exists():
                    seg.content_path = str(
                        await _download(
                            upstream, content, job.id, str(seg.upstream_id), "video", as_variant=f"part{seg.index:03d}"
                        )
                    )
                parts.append(Path(seg.content_path))
            out = content.scratch(job.id) / "video.mp4"
            started = time.perf_counter()
            await stitch_files(parts, out)
            log.info("stitched", video_id=job.id, parts=len(parts), seconds=round(time.perf_counter() - started, 3))
            job.content["video"] = str(content.adopt(job.id, "video", out).path)
            for part in parts:
                part.unlink(missing_ok=True)
        else:
            last = job.segments[-1]
            job.content["video"] = str(await _download(upstream, content, job.id, str(last.upstream_id), "video"))
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
