"""Continuity between chained segments: the previous segment's last frame as the next one's reference.

Used where the upstream cannot extend a video but accepts an ``input_reference`` file (the plan
marks such jobs ``continuity: last_frame``). Before segment *i* goes upstream, segment *i-1*'s video
is fetched into the job's local scratch directory (finalize later reuses it as a stitch part) and its
last frame is written as a PNG the size of the video. Scratch is per replica (with ``s3://`` replicas
share no disk): a replica that takes a job over fetches what it lacks again. Everything here is
re-done after a restart if the files are gone; nothing is generated twice because the segment's
idempotency key does not change.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict
from pathlib import Path

from gateway.content import ContentStore, ContentStoreError
from gateway.content.scratchfile import stream_to_file
from gateway.core.models import Job, Reference, Segment
from gateway.media.frames import last_frame_png
from gateway.observability import log
from gateway.upstreams.base import Upstream, UpstreamError

REFS = "segment_references"  # job.requested[REFS][str(index)] = Reference as a dict, or None (none possible)


def needs_reference(job: Job, seg: Segment) -> bool:
    return job.requested.get("continuity") == "last_frame" and seg.index > 0 and seg.kind == "create"


def segment_reference(job: Job, seg: Segment) -> Reference | None:
    """The input_reference segment ``seg`` is sent with: the client's for the first, a last frame after."""
    if seg.index == 0:
        return job.requested_reference()
    ref = stored_reference(job, seg)
    return ref if ref is not None and Path(str(ref.path)).exists() else None


def stored_reference(job: Job, seg: Segment) -> Reference | None:
    """The last frame recorded for segment ``seg`` (index > 0), wherever its file is (maybe another replica)."""
    ref = (job.requested.get(REFS) or {}).get(str(seg.index))
    return Reference(**ref) if isinstance(ref, dict) and ref.get("path") else None


async def fetch_part(job: Job, seg: Segment, upstream: Upstream, content: ContentStore) -> Path:
    """Segment ``seg``'s video in the job's scratch directory (``partNNN.mp4``), downloaded once."""
    if seg.content_path and Path(seg.content_path).exists():
        return Path(seg.content_path)
    path = content.scratch(job.id) / f"part{seg.index:03d}.mp4"
    if not path.exists():
        stream = await upstream.open_content(str(seg.upstream_id), "video")
        try:
            await stream_to_file(stream.chunks, path)
        finally:
            await stream.close()
    seg.content_path = str(path)
    return path


async def prepare_reference(job: Job, seg: Segment, upstream: Upstream, content: ContentStore) -> None:
    """Make sure segment ``seg`` has its reference frame; raises a retryable UpstreamError to try later."""
    refs = job.requested.setdefault(REFS, {})
    key = str(seg.index)
    if key in refs and (refs[key] is None or segment_reference(job, seg) is not None):
        return
    previous = job.segments[seg.index - 1]
    try:
        part = await fetch_part(job, previous, upstream, content)
    except UpstreamError as exc:
        if exc.retryable:
            raise
        log.warning("continuity_without_frame", video_id=job.id, segment=seg.index, status=exc.status)
        refs[key] = None  # the previous video is gone upstream: carry on with the continuation prompt only
        return
    frame = content.scratch(job.id) / f"ref{seg.index:03d}.png"
    await asyncio.to_thread(last_frame_png, part, frame)
    digest = hashlib.sha256(frame.read_bytes()).hexdigest()
    ref = Reference(filename=f"frame-{seg.index:03d}.png", content_type="image/png", path=str(frame), sha256=digest)
    try:  # a replica taking the job over mid-send finds the frame in the bucket (a no-op on file://)
        await content.keep_upload(ref)
    except ContentStoreError as exc:
        log.warning("continuity_frame_not_shared", video_id=job.id, segment=seg.index, error=str(exc))
    refs[key] = asdict(ref)


def drop_references(job: Job) -> None:
    """The reference frames are no longer needed once the job is finished."""
    for ref in (job.requested.get(REFS) or {}).values():
        if isinstance(ref, dict) and ref.get("path"):
            Path(ref["path"]).unlink(missing_ok=True)
