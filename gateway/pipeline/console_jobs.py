"""The console's job list: filters over the store's ``(created_at, id)`` listings, with a bounded scan.

The store lists one team at a time, newest first, from a cursor; this merges the teams asked for and
keeps the records that match. However rare the match, one call reads at most ``SCAN_LIMIT`` records and
answers with what it found and a ``next_cursor`` to go on from (``None`` when the listing is done), so a
page costs the same at 100 jobs as at 100,000. The cursor is the id of the last record read: a store
continues from the position a gateway id encodes (``store.base.id_position``), also for another team.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from gateway.core.models import Job
from gateway.store.base import JobStore, id_position

SCAN_LIMIT = 2000  # records read per call, at most
CHUNK = 200  # records per store listing call


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    provider: str | None = None
    model: str | None = None
    text: str | None = None  # in the prompt, any case
    since: int | None = None  # created at or after (unix seconds)
    until: int | None = None  # created at or before

    def matches(self, job: Job) -> bool:
        if self.status and str(job.status) != self.status:
            return False
        if self.provider and self.provider not in (job.upstream, job.route):
            return False
        if self.model and self.model not in (job.model, job.requested.get("upstream_model")):
            return False
        if self.text and self.text.casefold() not in job.prompt.casefold():
            return False
        return True


@dataclass
class Found:
    jobs: list[Job]
    next_cursor: str | None
    scanned: int


def time_cursor(until: int) -> str:
    """A cursor that starts a newest-first listing just after ``until`` (any record created at it comes next)."""
    return f"video_{(until + 1) * 1_000_000:014x}" + "0" * 34


class _Lane:
    """One team's listing, read in chunks."""

    def __init__(self, store: JobStore, tenant: str, after: str | None, first: int) -> None:
        self.store, self.tenant, self.after = store, tenant, after
        self.buffer: list[Job] = []
        self.more = True
        self.size = first  # the first read is as small as the page: a short list of many teams stays cheap

    async def head(self) -> Job | None:
        if not self.buffer and self.more:
            self.buffer, self.more = await self.store.list(self.tenant, after=self.after, limit=self.size, order="desc")
            self.size = CHUNK
            if self.buffer:
                self.after = self.buffer[-1].id
            else:
                self.more = False
        return self.buffer[0] if self.buffer else None


async def find_jobs(
    store: JobStore, tenants: list[str], flt: JobFilter, *, cursor: str | None, limit: int, scan_limit: int = SCAN_LIMIT
) -> Found:
    """Up to ``limit`` matching jobs of ``tenants``, newest first, from ``cursor``."""
    start = cursor
    if start is not None and id_position(start) is None:
        return Found([], None, 0)
    if flt.until is not None:
        bound = time_cursor(flt.until)
        start = bound if start is None or start > bound else start
    lanes = [_Lane(store, tenant, start, min(CHUNK, limit + 1)) for tenant in tenants]
    heap: list[tuple[tuple[int, str], int]] = []  # (negated position, lane) : the newest head first

    async def push(i: int) -> None:
        job = await lanes[i].head()
        if job is not None:
            heapq.heappush(heap, ((-job.created_at, _negate(job.id)), i))

    for i in range(len(lanes)):
        await push(i)
    found: list[Job] = []
    scanned = 0
    last: str | None = None
    while heap and len(found) < limit and scanned < scan_limit:
        _, i = heapq.heappop(heap)
        job = lanes[i].buffer.pop(0)
        scanned += 1
        last = job.id
        if flt.since is not None and job.created_at < flt.since:
            return Found(found, None, scanned)  # older than the range: every later record is too
        if flt.matches(job):
            found.append(job)
        await push(i)
    return Found(found, last if heap else None, scanned)


def _negate(text: str) -> str:
    """A key that sorts ``text`` backwards (ids are lower-case hex after ``video_``)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)
