"""Everything one simulator process remembers: the profile imitated, jobs, other objects, idempotency, counters."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gateway.simulator.callbacks import Callbacks
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError, invalid_value
from gateway.simulator.faults import FaultInjector
from gateway.simulator.jobs import DONE, Job
from gateway.simulator.limits import RateLimiter, check_concurrency
from gateway.simulator.profile import SimProfile


class SimState:
    def __init__(
        self, config: SimulatorConfig, profiles: Mapping[str, SimProfile], clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.clock = clock
        self.profiles = dict(profiles)
        self.profile: SimProfile = self._profile(config.profile)
        self.by_provider = {p.provider: p for p in self.profiles.values()}  # whose words a job's status is in
        self.ops = tuple(dict.fromkeys(op for p in self.profiles.values() for op in p.ops))
        self.faults = FaultInjector(config.faults, config.seed)
        self.limiter = RateLimiter(config.rpm)
        self.jobs: dict[str, Job] = {}
        self.variants: dict[str, tuple[str, int]] = {}  # variant id -> (job id, index)
        self.objects: dict[str, Any] = {}  # what else a provider keeps by id (e.g. characters)
        self.idempotency: dict[tuple[str, str], tuple[str, str]] = {}  # (key, idem) -> (operation, object id)
        self.calls: dict[str, int] = dict.fromkeys(self.ops, 0)
        self.generations_started = 0
        self.rejected: dict[str, int] = {"rpm": 0, "concurrency": 0}
        self.callbacks = Callbacks(clock)  # tasks whose create named a callback URL
        self._seq = 0

    def _profile(self, name: object) -> SimProfile:
        if not isinstance(name, str) or name not in self.profiles:
            raise invalid_value("profile", name, tuple(self.profiles))
        return self.profiles[name]

    def now(self) -> float:
        return self.clock()

    def count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def set_profile(self, name: object) -> None:
        self.profile = self._profile(name)
        self.config.profile = self.profile.name

    # jobs (those of the current profile's provider) -------------------
    def owned_jobs(self, owner: str) -> Iterator[Job]:
        provider = self.profile.provider
        return (j for j in self.jobs.values() if j.owner == owner and j.provider == provider and not j.deleted)

    def completed_of(self, owner: str) -> Callable[[str], bool]:
        """Whether an id names one of ``owner``'s jobs that has completed (and is not deleted)."""

        def completed(job_id: str) -> bool:
            job = self.jobs.get(job_id)
            return job is not None and job.owner == owner and not job.deleted and job.phase(self.now()) == DONE

        return completed

    def get_job(self, job_id: str, owner: str, what: str = "Video") -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.deleted or job.owner != owner or job.provider != self.profile.provider:
            raise SimError(404, f"{what} with id '{job_id}' not found.", code="not_found")
        return job

    def admit(self, owner: str) -> None:
        """Refuse a new generation when the caller's concurrency limit is reached."""
        try:
            check_concurrency(self.config.max_concurrent, self.owned_jobs(owner), self.now())
        except SimError:
            self.rejected["concurrency"] += 1
            raise

    def add_job(self, job: Job) -> Job:
        self._seq += 1
        job.seq = self._seq
        self.jobs[job.id] = job
        for index, variant_id in enumerate(job.variant_ids):
            self.variants[variant_id] = (job.id, index)
        self.generations_started += 1
        return job

    def rate_limit(self, key: str) -> dict[str, str]:
        try:
            return self.limiter.hit(key, time.monotonic())
        except SimError:
            self.rejected["rpm"] += 1
            raise

    # idempotency ------------------------------------------------------
    def replay(self, key: str, idem: str | None, operation: str) -> str | None:
        """The object id an earlier request with this ``Idempotency-Key`` produced, if any."""
        if not idem or self.config.ignore_idempotency:
            return None
        found = self.idempotency.get((key, idem))
        if found is None:
            return None
        if found[0] != operation:
            raise SimError(
                409,
                f"Idempotency-Key '{idem}' was already used for a different request ({found[0]}).",
                code="idempotency_key_reused",
            )
        return found[1]

    def remember(self, key: str, idem: str | None, operation: str, object_id: str) -> None:
        if idem and not self.config.ignore_idempotency:
            self.idempotency[(key, idem)] = (operation, object_id)

    # ops --------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        now = self.now()
        by_status: dict[str, int] = {}
        for job in self.jobs.values():
            if not job.deleted:
                status = self.by_provider[job.provider].status(job, now)
                by_status[status] = by_status.get(status, 0) + 1
        return {
            "calls": dict(self.calls),
            "generations": self.generations_started,
            "jobs": sum(by_status.values()),
            "statuses": by_status,
            "faults": dict(self.faults.counts),
            "rejected": dict(self.rejected),
            "callbacks": dict(self.callbacks.counts),
            "profile": self.profile.name,
            "time_scale": self.config.time_scale,
        }

    def reset_counters(self, *, jobs: bool = False) -> None:
        self.calls = dict.fromkeys(self.ops, 0)
        self.generations_started = 0
        self.rejected = dict.fromkeys(self.rejected, 0)
        self.callbacks.counts = dict.fromkeys(self.callbacks.counts, 0)
        self.faults.reset_counts()
        self.limiter.clear()
        if jobs:
            self.jobs.clear()
            self.variants.clear()
            self.objects.clear()
            self.idempotency.clear()
