"""Usage over time for the console: per-team and per-provider counters in time buckets, kept in the store.

What a create and a finished job add (``UsageStats.accepted``, ``refused``, ``job_finished``) goes into three
bucket sizes at once: a minute (kept 2 hours), an hour (kept 2 days) and a day (kept 32 days), each one
counter (``JobStore.counters_add``, the three in one round trip) whose fields are ``t:<team>:<metric>``
and ``p:<provider>:<metric>``.
Reading a range costs a fixed number of counters whatever the traffic: 60 minutes for ``hour``, 24 hours
for ``day``, 30 days for ``30d``. The counters are shared by every replica (they live in the store), so
the console reads the same numbers behind any load balancer, unlike ``/metrics`` (per process, and
hidden by the nginx of ``deploy/``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.core.models import Job, Status
from gateway.observability import log
from gateway.store.base import JobStore, StoreError


@dataclass(frozen=True)
class Grain:
    name: str
    step_s: int
    ttl_s: int


MINUTE, HOUR, DAY = Grain("m", 60, 2 * 3600), Grain("h", 3600, 2 * 86400), Grain("d", 86400, 32 * 86400)
RANGES = {"hour": (MINUTE, 60), "day": (HOUR, 24), "30d": (DAY, 30)}  # range -> (bucket size, buckets)
METRICS = ("requests", "video_seconds", "spend_usd", "saved_usd", "cache_hits", "coalesced", "completed", "failed")
DONE_TTL_S = 32 * 86400  # a finished job counted once, even when its listeners run again


def _key(grain: Grain, start: int) -> str:
    return f"console:{grain.name}:{start}"


def _field(kind: str, name: str, metric: str) -> str:
    return f"{kind}:{name.replace(':', '_')}:{metric}"


class UsageStats:
    """Records usage into time buckets and reads it back as series (one store round trip each way)."""

    def __init__(self, store: JobStore, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock

    async def _add(self, deltas: dict[str, float]) -> None:
        """Never fails the caller: the console's charts are not worth a refused create."""
        now = int(self.clock())
        keys = [(_key(grain, now - now % grain.step_s), float(grain.ttl_s)) for grain in (MINUTE, HOUR, DAY)]
        try:
            await self.store.counters_add(keys, deltas)
        except StoreError as exc:
            log.warning("console_stats_failed", error=str(exc))

    # -- what happens ------------------------------------------------------------
    async def accepted(self, job: Job, saved_usd: float) -> None:
        """A create the gateway took: a new job, a cache hit or a coalesced follower."""
        deltas = {_field("t", job.tenant, "requests"): 1.0}
        if job.cache in ("hit", "coalesced"):
            metric = "cache_hits" if job.cache == "hit" else "coalesced"
            deltas[_field("t", job.tenant, metric)] = 1.0
            deltas[_field("t", job.tenant, "saved_usd")] = round(saved_usd, 6)
        deltas[_field("p", job.upstream, "requests")] = 1.0
        await self._add(deltas)

    async def refused(self, tenant: str, code: str) -> None:
        await self._add({_field("t", tenant, "refused." + (code or "refused")): 1.0})

    async def job_finished(self, job: Job) -> None:
        if job.status not in (Status.COMPLETED, Status.FAILED) or job.cache in ("hit", "coalesced"):
            return
        try:  # once per job: the driver runs listeners again after a failure
            if not await self.store.kv_set(f"console:done:{job.id}", "1", ttl_s=DONE_TTL_S, nx=True):
                return
        except StoreError:
            return
        if job.status == Status.FAILED:
            await self._add({_field("t", job.tenant, "failed"): 1.0, _field("p", job.upstream, "failed"): 1.0})
            return
        charged = job.requested.get("charged")
        seconds = float(charged.get("seconds", 0)) if isinstance(charged, dict) else float(job.seconds or 0)
        spend = round(job.cost_usd, 6)
        await self._add(
            {
                _field("t", job.tenant, "completed"): 1.0,
                _field("t", job.tenant, "video_seconds"): seconds,
                _field("t", job.tenant, "spend_usd"): spend,
                _field("p", job.upstream, "completed"): 1.0,
                _field("p", job.upstream, "video_seconds"): seconds,
                _field("p", job.upstream, "spend_usd"): spend,
            }
        )

    async def job_deleted(self, job: Job) -> None:
        return None  # what was generated stays spent

    # -- what the console reads ---------------------------------------------------
    async def series(self, range_: str, tenants: list[str] | None) -> dict[str, Any]:
        """Buckets oldest first for ``tenants`` (None: every team, the gateway as a whole), totals, per
        provider and per team sums, and refusals by reason."""
        grain, count = RANGES[range_]
        now = int(self.clock())
        last = now - now % grain.step_s
        starts = [last - grain.step_s * i for i in range(count - 1, -1, -1)]
        counters = await self.store.counters_get([_key(grain, s) for s in starts])
        wanted = set(tenants) if tenants is not None else None
        buckets, teams, providers, refusals = [], {}, {}, {}
        for start, fields in zip(starts, counters, strict=True):
            bucket: dict[str, Any] = {"start": start, **{m: 0.0 for m in METRICS}, "refused": 0.0}
            for name, value in fields.items():
                kind, who, metric = name.split(":", 2)
                if kind == "p":
                    if wanted is None:
                        row = providers.setdefault(who, {})
                        row[metric] = row.get(metric, 0.0) + value
                    continue
                if wanted is not None and who not in wanted:
                    continue
                team = teams.setdefault(who, {})
                team[metric] = team.get(metric, 0.0) + value
                if metric.startswith("refused."):
                    bucket["refused"] += value
                    reason = metric.removeprefix("refused.")
                    refusals[reason] = refusals.get(reason, 0.0) + value
                elif metric in bucket:
                    bucket[metric] += value
            buckets.append({k: round(v, 6) if isinstance(v, float) else v for k, v in bucket.items()})
        totals = {m: round(sum(b[m] for b in buckets), 6) for m in (*METRICS, "refused")}
        return {
            "object": "gateway.usage_series",
            "range": range_,
            "step_s": grain.step_s,
            "buckets": buckets,
            "totals": totals,
            "refusals": refusals,
            "teams": teams,
            "providers": providers,
        }
