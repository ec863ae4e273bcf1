"""What a face calls: create, read, list, delete, remix, extend, edit, content.

Framework-free. Every method takes the calling tenant and only ever returns
that tenant's jobs; another tenant's id is indistinguishable from an unknown one.
Creates are admission (:mod:`gateway.pipeline.creates`, derived ones in
:mod:`gateway.pipeline.derived`), files are :mod:`gateway.pipeline.downloads`; reads and
deletes are here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.content import ContentStore, ContentStoreError
from gateway.core.models import Job
from gateway.core.plan import plan_request
from gateway.errors import not_found
from gateway.jobs.driver import JobDriver
from gateway.jobs.shared import delete_generations, owns_upstream_video
from gateway.observability import POLLS_ABSORBED, child, log
from gateway.pipeline.console_stats import UsageStats
from gateway.pipeline.creates import Creates, Planner
from gateway.pipeline.derived import DerivedCreates
from gateway.pipeline.downloads import Downloads
from gateway.pipeline.stages import JobEvents, Stage
from gateway.policies.model import Tenant
from gateway.store.base import JobStore
from gateway.store.snapshots import Snapshot, Snapshots
from gateway.upstreams.routing import UpstreamRouter
from gateway.upstreams.runtime import UpstreamRuntime


class VideoService(Creates, DerivedCreates, Downloads):
    def __init__(
        self,
        store: JobStore,
        upstream: UpstreamRouter | UpstreamRuntime,
        driver: JobDriver,
        content: ContentStore,
        *,
        stages: list[Stage] | None = None,
        planner: Planner = plan_request,
        events: list[JobEvents] | None = None,
        snapshots: Snapshots | None = None,
    ) -> None:
        self.store = store
        self.snapshots = snapshots or Snapshots(store, max_age_s=0)  # none: every poll reads the store
        self.upstream = upstream
        self.driver = driver
        self.media = content
        self.stages: list[Stage] = list(stages or [])
        self.planner = planner
        self.events: list[JobEvents] = list(events or [])
        self.stats: UsageStats | None = None  # set by the app: the console's usage over time
        # what a client reads of a record another job drives (a story's scene: its progress in the film)
        self.views: list[Callable[[Job], Awaitable[Job]]] = []
        driver.on_terminal.append(self._finished)

    async def _finished(self, job: Job) -> None:
        """Tell every listener, each on its own; raise the first failure afterwards (the driver retries)."""
        failure: Exception | None = None
        for listener in self.events:
            try:
                await listener.job_finished(job)
            except Exception as exc:
                log.exception("job_event_failed", video_id=job.id, listener=type(listener).__name__)
                failure = failure or exc
        if failure is not None:
            raise failure

    # -- reads -----------------------------------------------------------------
    async def get(self, tenant: Tenant, video_id: str, param: str | None = None) -> Job:
        job = await self.store.get(video_id)
        if job is None or job.tenant != tenant.name:
            raise not_found("video", video_id, param)
        return job

    async def retrieve(self, tenant: Tenant, video_id: str) -> Job:
        job = await self.get(tenant, video_id)
        POLLS_ABSORBED.labels(tenant.name).inc()
        return await self._view(job)

    async def poll(self, tenant: Tenant, video_id: str) -> Snapshot:
        """A client poll, answered from this replica's snapshot of the job (``store/snapshots.py``).

        A view that shows the job otherwise (a scene's part of its story: other records) gives a
        snapshot of its own, never kept: what it shows changes without a write to this job.
        """
        snap = await self.snapshots.get(video_id)
        if snap is None or snap.job.tenant != tenant.name:
            raise not_found("video", video_id, None)
        child(POLLS_ABSORBED, tenant.name).inc()
        viewed = await self._view(snap.job)  # views copy before they change anything
        return snap if viewed is snap.job else Snapshot(viewed, snap.read_at)

    async def list(self, tenant: Tenant, *, after: str | None, limit: int, order: str) -> tuple[list[Job], bool]:
        jobs, more = await self.store.list(tenant.name, after=after, limit=limit, order=order)
        return [await self._view(job) for job in jobs], more

    async def view(self, job: Job) -> Job:
        """``job`` as its client reads it (a story's scene: its part of the film's progress)."""
        return await self._view(job)

    async def _view(self, job: Job) -> Job:
        for view in self.views:
            job = await view(job)
        return job

    # -- delete ----------------------------------------------------------------
    async def delete(self, tenant: Tenant, video_id: str) -> Job:
        job = await self.get(tenant, video_id)
        await self.store.delete(job.id)
        try:
            await self.media.remove(job.id)
        except ContentStoreError as exc:  # the record is gone; the janitor's age rule removes the objects
            log.warning("content_remove_failed", video_id=job.id, error=str(exc))
        for listener in self.events:
            try:
                await listener.job_deleted(job)
            except Exception:  # one failing listener must not keep the others (the quota) from hearing it
                log.exception("job_event_failed", video_id=job.id, listener=type(listener).__name__)
        if await owns_upstream_video(self.store, job):  # not a cache hit's or coalesced create's, nor shared
            await delete_generations(job, self.upstream.adapter_of(job))  # on the upstream the job was made on
        log.info("job_deleted", video_id=job.id, tenant=tenant.name)
        return job
