"""The interface a content backend implements (the local filesystem today).

An S3-compatible backend is not built: nothing here can exercise one honestly (no object store
in the test environment). It would implement this protocol with multipart uploads in
``write`` (parts streamed, sha256 kept as object metadata), server-side copies in ``link``
(objects keyed by checksum make that a reference count instead), ``touch`` as a metadata
update, and ``find`` returning a local cache file or a presigned URL for the face to redirect to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from gateway.content.local import StoredFile


class ContentStore(Protocol):
    root: Path
    on_stored: Callable[[], None] | None

    def find(self, job_id: str, variant: str) -> StoredFile | None:
        """The retained file of one variant of a job, if any."""

    async def write(
        self, job_id: str, variant: str, chunks: AsyncIterator[bytes], ext: str | None = None
    ) -> StoredFile:
        """Stream chunks in; the file becomes visible only once complete and checksummed."""

    async def adopt(self, job_id: str, variant: str, source: Path) -> StoredFile:
        """Take over a file made elsewhere (a stitch)."""

    def jobs_with_video(self, sha256: str) -> list[str]:
        """Ids of the jobs whose retained video has this sha256."""

    def link(self, source_id: str, target_id: str) -> dict[str, str]:
        """Share every finished file of one job with another without copying; variant -> path."""

    def touch(self, job_id: str) -> None:
        """The job's content was just used (the LRU clock)."""

    def scratch(self, job_id: str) -> Path: ...

    def remove(self, job_id: str) -> None: ...
