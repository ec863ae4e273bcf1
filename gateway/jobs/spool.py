"""A finished job's media is kept on local disk before it goes into the content store.

The upstream keeps a video for a while (an hour at OpenAI); a content store can be down for longer (a bucket
outage). So finalising downloads every variant (the video, stitched or not, and its previews) into the job's
scratch directory first, records the files in ``Job.requested[SPOOLED]`` (variant -> path, ``""``: the
upstream has none), and only then puts them into the store. A failed upload leaves the local copies in place:
the next try uploads them again, without asking the upstream, for as long as it takes (the job keeps its
upstream ids too, should the copies be gone: another replica took the job over, the disk was wiped).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gateway.content import ContentStore
from gateway.content.local import EXTENSIONS, MEDIA_TYPES
from gateway.core.models import Job
from gateway.jobs.continuity import drop_references
from gateway.upstreams.base import Upstream

SPOOLED = "spooled"  # Job.requested: variant -> local file holding it until the content store has it ("": none)
EXTENSIONS_BY_TYPE = {media_type: ext for ext, media_type in MEDIA_TYPES.items()}


def spooled(job: Job, variant: str) -> str | None:
    """The local copy of ``variant`` kept for the content store ("": the upstream has none), if still there."""
    kept = (job.requested.get(SPOOLED) or {}).get(variant)
    if kept is None or (kept and not Path(kept).exists()):
        return None
    return str(kept)


def keep(job: Job, variant: str, path: str) -> None:
    job.requested.setdefault(SPOOLED, {})[variant] = path


async def spool(upstream: Upstream, content: ContentStore, job: Job, upstream_id: str, variant: str) -> str:
    """The upstream's ``variant`` of ``upstream_id`` in the job's scratch directory (complete, or not there).

    A copy already there (the replica died before the job recorded it) is used as it is."""
    for found in sorted(content.scratch(job.id).glob(f"spool-{variant}.*")):
        if not found.name.endswith(".part"):  # a complete download (a cut one never lost its .part)
            return str(found)
    stream = await upstream.open_content(upstream_id, variant)
    try:
        media_type = stream.headers.get("content-type", "").split(";")[0].strip().lower()
        # thumbnails are JPEG from one provider, WebP from another: the extension says which
        ext = EXTENSIONS_BY_TYPE.get(media_type) or EXTENSIONS.get(variant, "bin")
        path = await content.spool(job.id, f"spool-{variant}.{ext}", stream.chunks)
    finally:
        await stream.close()
    return str(path)


def clean_scratch(job: Job, content: ContentStore) -> None:
    """Everything is in the content store: the parts, the stitch and the reference frames go."""
    scratch = content.scratch(job.id)
    for seg in job.segments:
        if seg.content_path:
            Path(seg.content_path).unlink(missing_ok=True)
            Path(seg.content_path + ".sha256").unlink(missing_ok=True)
            seg.content_path = None
    for leftover in scratch.glob("video.*"):  # a stitch or transcode whose upload was retried from a spool
        leftover.unlink(missing_ok=True)
    drop_references(job)
    job.requested.pop(SPOOLED, None)
    with contextlib.suppress(OSError):
        scratch.rmdir()  # empty now, unless something else is still there
