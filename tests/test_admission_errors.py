"""Admission never leaves a charge without a job, nor tells a client "error" about a job it keeps.

Before the job is stored, any exception (not only a refusal) gives back what the stages took and
reaches the client; once it is stored, an exception is logged and the job is answered as queued,
for the driver to continue.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.content import LocalContentStore
from gateway.core.models import Job, SegStatus, Status, VideoRequest
from gateway.errors import ApiError
from gateway.jobs.driver import JobDriver
from gateway.pipeline.service import VideoService
from gateway.pipeline.stages import Admission
from gateway.policies.model import Tenant
from gateway.providers import PROFILES
from gateway.store.base import StoreError
from gateway.store.memory import MemoryStore
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo

TENANT = Tenant(name="acme")


class FlakyStore(MemoryStore):
    """A memory store whose ``put`` fails while ``fail_puts`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_puts = False

    async def put(self, job: Job) -> None:
        if self.fail_puts:
            raise StoreError("store unreachable (test)")
        await super().put(job)


class Upstream:
    """Answers creates with ``answer`` (an UpstreamVideo, or an exception to raise)."""

    name = "fake"
    base_url = "http://fake"

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.creates: list[GenerationSpec] = []

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self.creates.append(spec)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class Charging:
    """A stage that charges on admit and counts undos (like the quota stage)."""

    def __init__(self, name: str = "quota", fail: BaseException | None = None) -> None:
        self.name = name
        self.fail = fail
        self.charged = 0
        self.undone = 0

    async def admit(self, adm: Admission) -> Job | None:
        if self.fail is not None:
            raise self.fail
        self.charged += 1
        adm.charged.append(self.name)
        return None

    async def undo(self, adm: Admission) -> None:
        self.undone += 1


def service(tmp_path: Path, store: MemoryStore, upstream: Upstream, stages: list[Any]) -> VideoService:
    content = LocalContentStore(tmp_path / "content")
    driver = JobDriver(store, lambda: upstream, content, owner="test")  # type: ignore[arg-type,return-value]
    runtime = SimpleNamespace(
        caps=PROFILES["openai-2025-10"], current=lambda: upstream, name="default", adapter_of=lambda job: upstream
    )
    runtime.pick = lambda source=None: runtime  # one upstream: every job goes to it
    runtime.candidates = lambda source=None: [runtime]
    return VideoService(store, runtime, driver, content, stages=stages)  # type: ignore[arg-type]


async def test_a_store_failure_before_the_job_is_stored_gives_the_charge_back(tmp_path: Path) -> None:
    store, quota = FlakyStore(), Charging()
    upstream = Upstream(UpstreamVideo(id="up_1", status="queued"))
    store.fail_puts = True
    with pytest.raises(StoreError):
        await service(tmp_path, store, upstream, [quota]).create(TENANT, VideoRequest(prompt="a kite"))
    assert quota.charged == 1 and quota.undone == 1, "the charge must be given back when the job was never stored"
    assert upstream.creates == [], "nothing may be sent upstream for a job that was not stored"
    assert await store.list("acme") == ([], False)


async def test_any_stage_error_undoes_the_earlier_stages(tmp_path: Path) -> None:
    store, quota = FlakyStore(), Charging()
    broken = Charging("cache", fail=RuntimeError("bug in a stage"))
    upstream = Upstream(UpstreamVideo(id="up_1", status="queued"))
    with pytest.raises(RuntimeError):
        await service(tmp_path, store, upstream, [quota, broken]).create(TENANT, VideoRequest(prompt="a kite"))
    assert quota.undone == 1


async def test_an_error_after_the_job_is_stored_answers_it_as_queued(tmp_path: Path) -> None:
    store, quota = FlakyStore(), Charging()
    upstream = Upstream(KeyError("id"))  # an upstream body the adapter could not read
    created = await service(tmp_path, store, upstream, [quota]).create(TENANT, VideoRequest(prompt="a kite"))
    assert created.job.status == Status.QUEUED
    assert quota.undone == 0, "the job exists and keeps its charge until it finishes"
    kept = await store.get(created.job.id)
    assert kept is not None and kept.status == Status.QUEUED
    assert kept.segments[0].status == SegStatus.SUBMITTING, "the driver re-sends it with the same idempotency key"
    assert created.job.id in await store.active_ids()


async def test_an_upstream_refusal_still_deletes_the_job_and_refunds_once(tmp_path: Path) -> None:
    store, quota = FlakyStore(), Charging()
    upstream = Upstream(UpstreamError(400, "moderation", code="moderation_blocked"))
    with pytest.raises(ApiError) as refused:
        await service(tmp_path, store, upstream, [quota]).create(TENANT, VideoRequest(prompt="a kite"))
    assert refused.value.status == 400
    assert quota.undone == 1, "undone exactly once"
    assert await store.list("acme") == ([], False)
