"""The fair queue in front of the upstream: who may send the next generation when slots are scarce.

The upstream limits how many generations run at once (and how many creates a minute). When that
limit is known — configured as ``upstream_max_concurrent``, or learned from the upstream's 429s on
a create — a job's pending segment is sent only when a slot is free *and* the job is at the head
of the queue; otherwise it stays ``queued`` (it is never failed for it) and the video shows its
``queue_position``.

Fairness: the waiting jobs are ordered by ``(jobs of that team already running upstream + the job's
rank among its team's waiting jobs, job id)`` — a team with nothing running goes before a team
that already has slots, and a team's own jobs keep their order (ids grow with creation time). One
busy team therefore cannot starve another.

Each upstream (with ``upstreams: [...]``, each route) is its own lane: its own limit, pause and order.
Replicas agree without talking: each builds the same snapshot from the store (every active job's
segments) every ``refresh_s`` and only sends a job in the first ``free`` places; the learned limit
and a pause (a 429's ``Retry-After``) are shared through the store's ``kv``, per upstream. A limit learned from a
429 is the number then running; it is probed upward by one every ``PROBE_S`` while the queue is
full and no 429 came, and forgotten after ``LIMIT_TTL_S`` without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Gauge

from gateway.core.models import Job, Segment, SegStatus
from gateway.jobs.advance import NOT_SENT
from gateway.jobs.follow import is_follower
from gateway.observability import REGISTRY, P, log
from gateway.store.base import JobStore, StoreError
from gateway.tasks import cancel_and_wait

LIMIT_KEY = "fairq:limit"  # kv: the learned concurrent-generation limit
PAUSE_KEY = "fairq:paused_until"  # kv: no creates before this wall-clock time (a 429's Retry-After)
THROTTLED_KEY = "fairq:throttled"  # kv: present for PROBE_S after a 429 (no probing meanwhile)
LIMIT_TTL_S = 600.0
PROBE_S = 15.0
MAX_PAUSE_S = 60.0
GATED_RECHECK_S = 0.5  # a held-back segment is looked at again this soon
IN_FLIGHT = frozenset({SegStatus.SUBMITTING, SegStatus.QUEUED, SegStatus.IN_PROGRESS})

QUEUE_DEPTH = Gauge(
    P + "queue_depth",
    "Jobs waiting for an upstream slot (fair queue), by tenant",
    ["tenant"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
UPSTREAM_LIMIT = Gauge(
    P + "upstream_concurrency",
    "Upstream generations per upstream: the limit in force (configured or learned; 0 when none) and those running",
    ["upstream", "kind"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)


def waiting_segment(job: Job) -> Segment | None:
    """The segment ``job`` waits to send upstream (pending, or refused with a 429), if any."""
    if job.terminal or is_follower(job):
        return None
    for seg in job.segments:
        if seg.status == SegStatus.COMPLETED:
            continue
        if seg.status == SegStatus.PENDING:
            return seg
        if seg.status == SegStatus.SUBMITTING and job.requested.get(NOT_SENT, {}).get(str(seg.index)):
            return seg
        return None
    return None


def running(job: Job) -> int:
    """Generations of ``job`` the upstream may be working on now."""
    if job.terminal or is_follower(job):
        return 0
    waiting = waiting_segment(job)
    return sum(1 for s in job.segments if s.status in IN_FLIGHT and s is not waiting)


@dataclass
class Snapshot:
    taken_at: float = 0.0  # monotonic
    running: int = 0
    running_of: dict[str, int] = field(default_factory=dict)  # job id -> its generations running
    order: list[str] = field(default_factory=list)  # waiting job ids, fair order
    depth: dict[str, int] = field(default_factory=dict)  # tenant -> waiting jobs


def fair_order(jobs: list[Job]) -> Snapshot:
    """Order the waiting jobs: fewest running of its team (plus its rank among the team's waiting) first."""
    snap = Snapshot(taken_at=time.monotonic())
    busy: dict[str, int] = {}
    waiting: dict[str, list[str]] = {}
    for job in jobs:
        snap.running_of[job.id] = running(job)
        busy[job.tenant] = busy.get(job.tenant, 0) + snap.running_of[job.id]
        if waiting_segment(job) is not None:
            waiting.setdefault(job.tenant, []).append(job.id)
    snap.running = sum(busy.values())
    keyed = []
    for tenant, ids in waiting.items():
        snap.depth[tenant] = len(ids)
        for rank, job_id in enumerate(sorted(ids)):
            keyed.append((busy.get(tenant, 0) + rank, job_id))
    snap.order = [job_id for _, job_id in sorted(keyed)]
    return snap


@dataclass
class Lane:
    """One upstream's slots: its learned limit and pause, and its waiting jobs in fair order."""

    name: str
    learned: int | None = None
    paused_until: float = 0.0
    snapshot: Snapshot = field(default_factory=Snapshot)
    positions: dict[str, int] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)  # job id -> monotonic time sent here since the snapshot
    lowered: float = 0.0  # monotonic time the learned limit last went down (a burst of 429s lowers it once)

    def key(self, prefix: str) -> str:
        return f"{prefix}:{self.name}"


def default_lane(job: Job) -> str:
    return job.route or "default"


class FairQueue:
    """The fair queue, one lane per upstream (``lane_of`` names a job's upstream)."""

    def __init__(
        self,
        store: JobStore,
        *,
        max_concurrent: int = 0,
        refresh_s: float = 0.5,
        lane_of: Callable[[Job], str] = default_lane,
    ) -> None:
        self.store = store
        self.configured = max_concurrent or None
        self.refresh_s = refresh_s
        self.lane_of = lane_of
        self.lanes: dict[str, Lane] = {}
        self.taken_at = 0.0  # monotonic time of the last snapshot
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._published: set[str] = set()

    def lane(self, job: Job) -> Lane:
        name = self.lane_of(job)
        if name not in self.lanes:
            self.lanes[name] = Lane(name)
        return self.lanes[name]

    def limit(self, lane: Lane) -> int | None:
        return self.configured or lane.learned

    # -- what the driver and the service ask ------------------------------------
    async def may_submit(self, job: Job) -> bool:
        """Whether ``job``'s waiting segment may go upstream now (True when nothing limits it)."""
        lane = self.lane(job)
        if self.limit(lane) is None and lane.paused_until <= time.time():
            return True
        if time.monotonic() - self.taken_at > self.refresh_s:
            await self.refresh()
        if lane.paused_until > time.time():
            return False
        limit = self.limit(lane)
        if limit is None:
            return True
        snap = lane.snapshot
        sent_since = [j for j, at in lane.sent.items() if at > snap.taken_at]
        free = limit - snap.running - len(sent_since)
        if free <= 0:
            return False
        head = [j for j in snap.order if j not in lane.sent]
        if job.id in snap.order:
            return job.id in head[:free]
        return free > len(head)  # new since the snapshot: only behind everyone already waiting

    async def step(self, job: Job, step: Callable[[], Awaitable[None]]) -> None:
        """Run one driver step of ``job`` through the queue: hold a waiting segment back, watch for 429s."""
        seg = waiting_segment(job)
        if seg is None or seg.next_poll_at > time.time():
            await step()
            return
        if not await self.may_submit(job):
            seg.next_poll_at = time.time() + GATED_RECHECK_S
            return
        await self.sent(job, seg, step)

    async def sent(self, job: Job, seg: Segment, send: Callable[[], Awaitable[None]]) -> None:
        """Send ``seg`` (``send`` does it) and learn from the outcome."""
        before = seg.next_poll_at
        await send()
        if job.requested.get(NOT_SENT, {}).get(str(seg.index)) and seg.next_poll_at != before:
            await self.throttled(job, seg)
        elif seg.status != SegStatus.PENDING:
            self.lane(job).sent[job.id] = time.monotonic()

    def position(self, job: Job) -> int | None:
        """1 = the next to be sent; None when the job is not waiting in the queue (or no limit applies).

        From the last snapshot (at most ``refresh_s`` old); a job newer than it waits behind everyone.
        """
        lane = self.lane(job)
        if self.limit(lane) is None or waiting_segment(job) is None:
            return None
        return lane.positions.get(job.id) or len(lane.snapshot.order) + 1

    def status(self) -> dict[str, object]:
        """For /readyz: per upstream, the limit in force and where it comes from, what runs and what waits."""
        lanes = {}
        for lane in self.lanes.values():
            source = "configured" if self.configured else "learned" if lane.learned else None
            lanes[lane.name] = {
                "limit": self.limit(lane),
                "source": source,
                "running": lane.snapshot.running,
                "waiting": len(lane.snapshot.order),
                "paused_s": round(max(0.0, lane.paused_until - time.time()), 2),
            }
        return {"ok": True, "upstreams": lanes}

    # -- learning the limit ------------------------------------------------------
    async def throttled(self, job: Job, seg: Segment) -> None:
        """The upstream answered a create with 429: learn its limit, pause it until its Retry-After."""
        lane = self.lane(job)
        now = time.time()
        pause = min(max(seg.next_poll_at - now, 0.0), MAX_PAUSE_S)
        with contextlib.suppress(StoreError):
            await self.refresh(force=True)  # what runs upstream now is the limit we just hit
            # the refused job may still be stored as sending (its 429 is saved after this): not a slot
            others = max(1, lane.snapshot.running - lane.snapshot.running_of.get(job.id, 0))
            if self.configured is None:
                learned = others if lane.learned is None else min(lane.learned, others)
                if lane.learned is not None and learned == lane.learned and time.monotonic() - lane.lowered > 2.0:
                    learned = max(1, learned - 1)  # refused at the limit we believed in: it is lower
                if learned != lane.learned:
                    lane.lowered = time.monotonic()
                lane.learned = learned
                await self.store.kv_set(lane.key(LIMIT_KEY), str(learned), ttl_s=LIMIT_TTL_S)
            await self.store.kv_set(lane.key(THROTTLED_KEY), "1", ttl_s=PROBE_S)
            if pause > 0:
                lane.paused_until = max(lane.paused_until, now + pause)
                await self.store.kv_set(lane.key(PAUSE_KEY), repr(lane.paused_until), ttl_s=pause)
        log.info(
            "upstream_throttled",
            video_id=job.id,
            tenant=job.tenant,
            upstream=lane.name,
            limit=self.limit(lane),
            pause_s=round(pause, 2),
        )

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read the shared limits and pauses, and (when a limit applies) every active job."""
        async with self._lock:
            if not force and time.monotonic() - self.taken_at <= self.refresh_s / 2:
                return  # someone refreshed while we waited
            started = time.monotonic()
            for lane in list(self.lanes.values()):
                learned, paused = (
                    await self.store.kv_get(lane.key(LIMIT_KEY)),
                    await self.store.kv_get(lane.key(PAUSE_KEY)),
                )
                lane.learned = int(learned) if learned else None
                lane.paused_until = float(paused) if paused else 0.0
            if force or any(self.limit(lane) is not None for lane in self.lanes.values()):
                ids = await self.store.active_ids()
                jobs: list[Job] = []
                for i in range(0, len(ids), 64):
                    found = await asyncio.gather(*(self.store.get(j) for j in ids[i : i + 64]))
                    jobs += [j for j in found if j is not None]
                by_lane: dict[str, list[Job]] = {name: [] for name in self.lanes}
                for job in jobs:
                    by_lane.setdefault(self.lane(job).name, []).append(job)
                for name, lane_jobs in by_lane.items():
                    lane = self.lanes[name]
                    lane.snapshot = fair_order(lane_jobs)
                    lane.snapshot.taken_at = started
                    lane.positions = {job_id: n + 1 for n, job_id in enumerate(lane.snapshot.order)}
                    await self._probe(lane)
            else:
                for lane in self.lanes.values():
                    lane.snapshot, lane.positions = Snapshot(taken_at=started), {}
            for lane in self.lanes.values():
                lane.sent = {j: at for j, at in lane.sent.items() if at > started}
            self.taken_at = started
            self._publish()

    async def _probe(self, lane: Lane) -> None:
        """A learned limit grows by one while the queue is full and no 429 came for PROBE_S."""
        if self.configured is not None or lane.learned is None or not lane.snapshot.order:
            return
        if lane.snapshot.running < lane.learned or await self.store.kv_get(lane.key(THROTTLED_KEY)):
            return
        if await self.store.kv_set(lane.key(THROTTLED_KEY), "probe", ttl_s=PROBE_S, nx=True):
            lane.learned += 1
            await self.store.kv_set(lane.key(LIMIT_KEY), str(lane.learned), ttl_s=LIMIT_TTL_S)
            log.info("upstream_limit_probe", upstream=lane.name, limit=lane.learned)

    def _publish(self) -> None:
        depth: dict[str, int] = {}
        for lane in self.lanes.values():
            for tenant, n in lane.snapshot.depth.items():
                depth[tenant] = depth.get(tenant, 0) + n
            UPSTREAM_LIMIT.labels(lane.name, "limit").set(self.limit(lane) or 0)
            UPSTREAM_LIMIT.labels(lane.name, "running").set(lane.snapshot.running)
        for tenant in self._published - set(depth):
            QUEUE_DEPTH.labels(tenant).set(0)
        for tenant, n in depth.items():
            QUEUE_DEPTH.labels(tenant).set(n)
        self._published |= set(depth)

    # -- the refresh loop (keeps positions and metrics current for reads) ----------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="fair-queue")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except StoreError:
                pass
            except Exception:
                log.exception("fair_queue_refresh_error")
            await asyncio.sleep(self.refresh_s)
