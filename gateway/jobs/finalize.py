"""When every segment is done: fetch the media once, stitch if needed, mark the job completed."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from gateway.content import ContentStore, ContentStoreError, StoredFile
from gateway.content.space import is_space_error
from gateway.core.models import Job, SegStatus, Status
from gateway.jobs.advance import backoff, fail_job
from gateway.jobs.continuity import fetch_part
from gateway.jobs.spool import SPOOLED, clean_scratch, keep, spool, spooled
from gateway.media.previews import derive_previews
from gateway.observability import COST_USD, DELIVERED_SECONDS, VIDEO_SECONDS, log
from gateway.upstreams.base import Upstream, UpstreamError

PREVIEWS = ("thumbnail", "spritesheet")


def needs_stitch(job: Job) -> bool:
    """Chained generations are concatenated; an extension chain's last video already holds the whole."""
    return len(job.segments) > 1 and any(s.kind != "extend" for s in job.segments[1:])


async def _prepare_video(job: Job, upstream: Upstream, content: ContentStore) -> str:
    """The one video the client gets, as a local file: the upstream's, or stitched from chained parts, trimmed
    to the asked length, transcoded."""
    trim = job.requested.get("trim_seconds")
    webm = job.requested.get("output_format") == "webm"
    scale = scale_size(job)
    segments = job.segments if needs_stitch(job) else [job.segments[-1]]
    if not made_here(job):
        return await spool(upstream, content, job, str(segments[0].upstream_id), "video")
    from gateway.media.stitch import stitch_files
    from gateway.media.transcode import transcode_webm

    parts = [await fetch_part(job, seg, upstream, content) for seg in segments]
    video = parts[0]
    each = job.requested.get("part_seconds")  # a story: what each scene's generation keeps
    if len(parts) > 1 or trim or scale is not None:
        video = content.scratch(job.id) / "video.mp4"
        await stitch_files(parts, video, seconds=float(trim) if trim else None, each=each, size=scale)
    if webm:
        encoded = content.scratch(job.id) / "video.webm"
        await transcode_webm(video, encoded)
        video = encoded
    return str(video)


def made_here(job: Job) -> bool:
    """The client's video is the gateway's work (stitched, trimmed, scaled, transcoded), not one upstream video
    as it is: its previews are derived from it, never the upstream's previews of a part."""
    if needs_stitch(job) or job.requested.get("trim_seconds") or job.requested.get("output_format") == "webm":
        return True
    return scale_size(job) is not None


def scale_size(job: Job) -> tuple[int, int] | None:
    """(width, height) the video is scaled to: the size asked, where the provider made the nearest it could."""
    wanted = str(job.requested.get("scale_to") or "")
    width, _, height = wanted.partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


async def fetch_and_assemble(job: Job, upstream: Upstream, content: ContentStore) -> None:
    """Download (and stitch) the job's media to local files, then put them into the content store.

    Raises UpstreamError to retry the download later, ContentStoreError to retry the upload later: the local
    copies stay (:mod:`gateway.jobs.spool`), so the upload is retried without the upstream, however long the
    store is down."""
    await _adopted_before(job, content)
    if "video" not in job.content and spooled(job, "video") is None:
        keep(job, "video", await _prepare_video(job, upstream, content))
    missing: list[str] = []
    for variant in PREVIEWS:
        if variant in job.content or spooled(job, variant) is not None:
            continue
        if made_here(job):
            missing.append(variant)
            continue
        try:
            keep(job, variant, await spool(upstream, content, job, str(job.segments[0].upstream_id), variant))
        except UpstreamError as exc:
            if exc.retryable:
                raise
            missing.append(variant)  # the upstream has no such preview: made from the video below
    if missing:
        await _derive(job, content, tuple(missing))
    for variant in ("video", *PREVIEWS):
        if variant not in job.content:
            path = spooled(job, variant)
            job.content[variant] = (await content.adopt(job.id, variant, Path(path))).ref if path else ""
            job.requested[SPOOLED].pop(variant, None)
    clean_scratch(job, content)


async def _derive(job: Job, content: ContentStore, variants: tuple[str, ...]) -> None:
    """Previews made from the finished video with PyAV (never asked of the upstream again); ``""`` kept where
    that failed (a 404 on the variant, the job completes all the same)."""
    video = spooled(job, "video") or ""
    if not video and "video" in job.content:  # adopted on an earlier try: the retained file, where it is local
        stored = await content.find(job.id, "video")
        video = str(stored.path) if isinstance(stored, StoredFile) else ""
    if not video:
        log.warning("preview_derive_skipped", video_id=job.id, reason="no local copy of the video")
        for variant in variants:
            keep(job, variant, "")
        return
    made = await derive_previews(Path(video), content.scratch(job.id), variants, job.id)
    for variant, path in made.items():
        keep(job, variant, path)


async def _adopted_before(job: Job, content: ContentStore) -> None:
    """A local copy the job recorded is gone: the store took it (the replica died before saving the job)?"""
    for variant, path in list((job.requested.get(SPOOLED) or {}).items()):
        if path and variant not in job.content and not Path(path).exists():
            found = await content.find(job.id, variant)
            if found is not None:
                job.content[variant] = found.ref
                job.requested[SPOOLED].pop(variant, None)


def mark_completed(job: Job, retention_s: int) -> None:
    now = int(time.time())
    job.status = Status.COMPLETED
    job.progress = 100
    job.completed_at = now
    job.expires_at = now + retention_s
    job.error = None
    generated = sum(s.seconds for s in job.segments)  # as the quota charged them (trimmed seconds too)
    VIDEO_SECONDS.labels(job.tenant, job.model).inc(generated)
    DELIVERED_SECONDS.labels(job.tenant, job.model).inc(float(job.seconds))
    COST_USD.labels(job.tenant, job.model).inc(job.cost_usd)


def all_segments_done(job: Job) -> bool:
    return all(s.status == SegStatus.COMPLETED for s in job.segments)


FETCH_AFTER = "fetch_after"  # Job.requested: epoch seconds of the next try at downloading/assembling the media
FINALIZE_ERRORS = "finalize_errors"  # Job.requested: failed assemblies (stitch, transcode, disk, a refused download)
STORE_ERRORS = "content_store_errors"  # Job.requested: content-store failures in a row (retried, never fatal)
MAX_FINALIZE_ATTEMPTS = 3
SPACE_WAITS = "space_waits"  # Job.requested: assemblies put off because the content store was full
SPACE_RETRY_MAX_S = 10.0


async def finalize_job(job: Job, upstream: Upstream, content: ContentStore, retention_s: int) -> None:
    """Every segment is done: fetch (and stitch) the media, or schedule the next try, or give up."""
    try:
        await fetch_and_assemble(job, upstream, content)
    except UpstreamError as exc:
        log.warning("content_fetch_retry", video_id=job.id, status=exc.status)
        if exc.status == 404:
            expired = "The upstream expired the video before it could be fetched."
            fail_job(job, {"code": "content_expired", "message": expired})
        elif exc.retryable:
            job.requested[FETCH_AFTER] = time.time() + backoff(3, exc.retry_after, 30.0)
        else:
            await _finalize_failed(job, f"the upstream refused the download ({exc.status})", content)
    except ContentStoreError as exc:
        # the bucket is unreachable or refused a write: the generation is paid for, so never give up on
        # it here; try again with backoff while the upstream still has the video (a 404 ends it above)
        errors = int(job.requested.get(STORE_ERRORS) or 0) + 1
        job.requested[STORE_ERRORS] = errors
        job.requested[FETCH_AFTER] = time.time() + backoff(min(errors, 6), None, 60.0)
        log.warning("content_store_retry", video_id=job.id, attempt=errors, error=str(exc))
    except Exception as exc:
        if is_space_error(exc):  # a full disk: the paid generation waits upstream until space is back
            _wait_for_space(job)
            return
        log.exception("job_assembly_error", video_id=job.id)  # stitch, transcode: not worth retrying forever
        await _finalize_failed(job, type(exc).__name__, content)
    else:
        for key in (FETCH_AFTER, FINALIZE_ERRORS, STORE_ERRORS, SPACE_WAITS):
            job.requested.pop(key, None)
        mark_completed(job, retention_s)


def _wait_for_space(job: Job) -> None:
    """Try again later, as often as it takes: never counted as a failed assembly (the upstream's own
    expiry of the video, a 404 on the next try, is what finally gives up)."""
    waits = int(job.requested.get(SPACE_WAITS) or 0) + 1
    job.requested[SPACE_WAITS] = waits
    job.requested[FETCH_AFTER] = time.time() + backoff(waits, None, SPACE_RETRY_MAX_S)
    log.warning("job_assembly_waiting_for_space", video_id=job.id, waits=waits)


async def _finalize_failed(job: Job, reason: str, content: ContentStore) -> None:
    errors = int(job.requested.get(FINALIZE_ERRORS) or 0) + 1
    job.requested[FINALIZE_ERRORS] = errors
    if errors < MAX_FINALIZE_ATTEMPTS:
        job.requested[FETCH_AFTER] = time.time() + backoff(errors + 1, None, 30.0)
        return
    log.error("job_assembly_failed", video_id=job.id, attempts=errors, reason=reason)
    fail_job(
        job,
        {
            "code": "video_assembly_failed",
            "message": f"The gateway could not prepare the finished video after {errors} attempts ({reason}).",
        },
    )
    with contextlib.suppress(ContentStoreError):  # what was kept is unreachable: the janitor's age rule ends it
        await content.remove(job.id)
