"""The interface a content backend implements: ``file://`` (:mod:`.local`) or ``s3://`` (:mod:`.s3`).

Everything that touches the network is a coroutine. A job's retained media is found by job id and
variant; what a caller keeps in ``Job.content`` is :attr:`ref` of what was stored (a path or an object
key), only ever compared with ``""`` (the upstream had no such variant). Work that needs real files
(stitching, transcoding, last frames) happens in :meth:`ContentStore.scratch`, a local directory, and
its result goes in through :meth:`ContentStore.adopt`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway.content.entries import Entry
from gateway.content.local import StoredFile
from gateway.core.models import Reference
from gateway.upstreams.base import ContentStream


class ContentStoreError(Exception):
    """The backend failed (unreachable, refused, a missing bucket): retried, never a reason to discard."""


@dataclass(frozen=True)
class StoredObject:
    """A retained object in a bucket."""

    key: str  # relative to the store's prefix
    size: int
    sha256: str
    media_type: str
    last_modified: float

    @property
    def ref(self) -> str:
        return self.key


@dataclass(frozen=True)
class ContentRedirect:
    """Send the client elsewhere for the bytes (a presigned URL)."""

    url: str


Stored = StoredFile | StoredObject


class ContentStore(Protocol):
    url: str
    on_stored: Callable[[], None] | None

    async def check(self) -> None:
        """Raise :class:`ContentStoreError` with a plain reason when the backend cannot be used."""

    async def find(self, job_id: str, variant: str) -> Stored | None:
        """The retained media of one variant of a job, if any."""

    async def serve(
        self, stored: Stored, range_header: str | None
    ) -> StoredFile | ContentStream | ContentRedirect | None:
        """What the face sends for ``stored`` (``None``: it vanished meanwhile)."""

    async def write(self, job_id: str, variant: str, chunks: AsyncIterator[bytes], ext: str | None = None) -> Stored:
        """Stream chunks in; the media becomes visible only once complete."""

    async def adopt(self, job_id: str, variant: str, source: Path) -> Stored:
        """Take over a file made in scratch (a stitch, a transcode); the source is consumed."""

    async def spool(self, job_id: str, name: str, chunks: AsyncIterator[bytes]) -> Path:
        """Stream chunks into ``name`` in the job's scratch directory (complete, or not there): a local copy
        kept until :meth:`adopt` takes it, so a failed upload is retried without the upstream."""

    async def jobs_with_video(self, sha256: str) -> list[str]:
        """Ids of the jobs whose retained video has this sha256."""

    async def link(self, source_id: str, target_id: str) -> dict[str, str]:
        """Give one job's finished media to another (no bytes through the gateway); variant -> ref."""

    async def touch(self, job_id: str) -> None:
        """The job's content was just used (the LRU clock)."""

    def scratch(self, job_id: str) -> Path:
        """A local working directory for the job."""

    async def remove(self, job_id: str) -> None: ...

    async def inventory(self) -> list[Entry]:
        """One entry per job holding content (for the retention janitor)."""

    async def evict(self, entry: Entry) -> None: ...

    async def keep_upload(self, ref: Reference) -> None:
        """Make a client's uploaded file reachable from every replica."""

    async def local_upload(self, ref: Reference) -> Reference:
        """``ref`` with a path that exists on this replica (fetched from the backend when needed)."""
