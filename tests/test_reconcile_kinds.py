"""Reconciliation covers remixes, extensions and edits, not only plain creates.

A segment of any kind whose call may have reached the upstream is looked for in the upstream's
listing (matched by kind-specific fields) before it is sent again; when the upstream cannot be
asked, the segment waits or the job fails, never a blind re-send. The e2e version is
tests/test_crash_campaign.py; these pin the matching rules.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from gateway.core.models import Job, Segment, SegStatus, Status
from gateway.jobs.advance import SegmentRunner
from gateway.store.memory import MemoryStore
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo

Made = Callable[[], UpstreamVideo]
SOURCE = "video_src"  # an upstream video of 8 s the new segment derives from


class Upstream:
    """Lists ``made`` (generations whose answers were lost); ``retrieve`` knows the 8 s source; counts sends."""

    name = "fake"
    base_url = "http://fake"

    def __init__(self, made: list[UpstreamVideo], *, list_error: UpstreamError | None = None) -> None:
        self.made = made
        self.list_error = list_error
        self.creates: list[GenerationSpec] = []

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        if self.list_error is not None:
            raise self.list_error
        return [v for v in self.made if (v.created_at or 0) >= since]

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        if upstream_id != SOURCE:
            raise UpstreamError(404, "no such video")
        return UpstreamVideo(id=SOURCE, status="completed", seconds="8", model="sora-2", size="1280x720")

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self.creates.append(spec)
        return UpstreamVideo(id=f"new_{uuid.uuid4().hex[:8]}", status="queued")


def made(vid: str, prompt: str, seconds: str, *, remixed_from: str | None = None, age: float = 0.0) -> Made:
    """A listed video, dated when the test runs (parameters are built at collection time)."""
    return lambda: UpstreamVideo(
        id=vid,
        status="in_progress",
        model="sora-2",
        size="1280x720",
        seconds=seconds,
        prompt=prompt,
        created_at=time.time() - age,
        remixed_from=remixed_from,
    )


def lost_job(kind: str, prompt: str, seconds: int) -> Job:
    """A job whose segment was sent (``submitting``) by a replica that died before the answer."""
    seg = Segment(
        index=0,
        seconds=seconds,
        prompt=prompt,
        kind=kind,
        status=SegStatus.SUBMITTING,
        attempts=1,
        source_upstream_id=SOURCE,
    )
    seg.submitted_at = time.time() - 1
    return Job(
        id=f"video_{uuid.uuid4().hex[:8]}",
        tenant="acme",
        model="sora-2",
        prompt=prompt,
        size="1280x720",
        seconds=str(seconds),
        kind=kind,
        segments=[seg],
    )


def resume(upstream: Upstream, job: Job) -> Job:
    async def save(_: Job) -> bool:
        return True

    runner = SegmentRunner(upstream, poll_min_s=0.0, poll_max_s=0.0, max_attempts=3, claims=MemoryStore())  # type: ignore[arg-type]
    asyncio.run(runner.submit(job, job.segments[0], save))
    return job


@pytest.mark.parametrize(
    ("kind", "seconds", "listed"),
    [
        ("remix", 8, made("v_remix", "p", "8", remixed_from=SOURCE)),
        ("extend", 4, made("v_ext", "p", "12")),  # the listing shows the stitched total: 8 + 4
        ("edit", 8, made("v_edit", "p", "8")),
    ],
)
def test_a_lost_derived_segment_is_adopted_not_sent_again(kind: str, seconds: int, listed: Made) -> None:
    video = listed()
    upstream = Upstream([video])
    job = resume(upstream, lost_job(kind, "p", seconds))
    assert job.segments[0].upstream_id == video.id
    assert upstream.creates == []


@pytest.mark.parametrize(
    ("kind", "seconds", "listed"),
    [
        ("remix", 8, made("v_other_source", "p", "8", remixed_from="video_elsewhere")),
        ("remix", 8, made("v_other_prompt", "q", "8", remixed_from=SOURCE)),
        ("remix", 8, made("v_before", "p", "8", remixed_from=SOURCE, age=3600)),
        ("extend", 4, made("v_wrong_length", "p", "8")),  # 8 s: not the source extended by 4
        ("extend", 4, made("v_a_remix", "p", "12", remixed_from=SOURCE)),
        ("edit", 8, made("v_edit_len", "p", "12")),
    ],
)
def test_a_different_generation_is_not_adopted(kind: str, seconds: int, listed: Made) -> None:
    upstream = Upstream([listed()])
    job = resume(upstream, lost_job(kind, "p", seconds))
    assert str(job.segments[0].upstream_id).startswith("new_")
    assert len(upstream.creates) == 1


def test_an_upstream_that_cannot_list_fails_the_job_instead_of_paying_twice() -> None:
    upstream = Upstream([], list_error=UpstreamError(400, "listing is not supported"))
    job = resume(upstream, lost_job("remix", "p", 8))
    assert upstream.creates == []
    assert job.status == Status.FAILED
    assert job.error and job.error["code"] == "upstream_outcome_unknown"


def test_a_transient_listing_error_waits_and_sends_nothing() -> None:
    upstream = Upstream([], list_error=UpstreamError(503, "overloaded"))
    job = resume(upstream, lost_job("extend", "p", 4))
    assert upstream.creates == []
    assert job.status != Status.FAILED
    assert job.segments[0].status == SegStatus.SUBMITTING


def test_a_refused_connection_marks_the_send_as_surely_not_made() -> None:
    """A create that never connected created nothing: the next try re-sends without listing."""

    class Down(Upstream):
        async def create(self, spec: GenerationSpec) -> UpstreamVideo:
            self.creates.append(spec)
            raise UpstreamError(0, "upstream unreachable (ConnectError)", code="connect_failed")

    upstream = Down([], list_error=UpstreamError(503, "must not be asked"))
    job = lost_job("create", "p", 4)
    job.segments[0].status = SegStatus.PENDING
    resume(upstream, job)
    assert job.requested.get("submit_not_sent") == {"0": True}
    resume(upstream, job)  # no listing needed: sent again
    assert len(upstream.creates) == 2
