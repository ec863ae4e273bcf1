"""Everything one simulator process remembers: jobs, characters, idempotency, counters."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import SimError
from gateway.simulator.faults import FaultInjector
from gateway.simulator.jobs import Job
from gateway.simulator.limits import RateLimiter, check_concurrency
from gateway.simulator.profiles import Profile, get_profile

CALL_OPS: tuple[str, ...] = (
    "create",
    "retrieve",
    "list",
    "delete",
    "content",
    "remix",
    "extend",
    "edit",
    "characters",
    "models",
    "moderations",
    "chat_completions",
    "azure_create",
    "azure_retrieve",
    "azure_list",
    "azure_delete",
    "azure_content",
    "azure_models",
)


@dataclass
class Character:
    id: str
    owner: str
    name: str
    created_at: int


class SimState:
    def __init__(self, config: SimulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.profile: Profile = get_profile(config.profile)
        self.faults = FaultInjector(config.faults, config.seed)
        self.limiter = RateLimiter(config.rpm)
        self.jobs: dict[str, Job] = {}
        self.generations: dict[str, tuple[str, int]] = {}  # generation id -> (job id, variant index)
        self.characters: dict[str, Character] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, str]] = {}  # (key, idem) -> (operation, object id)
        self.calls: dict[str, int] = dict.fromkeys(CALL_OPS, 0)
        self.generations_started = 0
        self.rejected: dict[str, int] = {"rpm": 0, "concurrency": 0}
        self._seq = 0

    def now(self) -> float:
        return self.clock()

    def count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def set_profile(self, name: str) -> None:
        self.profile = get_profile(name)
        self.config.profile = name

    # jobs -------------------------------------------------------------
    def owned_jobs(self, owner: str, dialect: str) -> Iterator[Job]:
        return (j for j in self.jobs.values() if j.owner == owner and j.dialect == dialect and not j.deleted)

    def get_job(self, job_id: str, owner: str, dialect: str, what: str = "Video") -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.deleted or job.owner != owner or job.dialect != dialect:
            raise SimError(404, f"{what} with id '{job_id}' not found.", code="not_found")
        return job

    def admit(self, owner: str, dialect: str) -> None:
        """Refuse a new generation when the caller's concurrency limit is reached."""
        try:
            check_concurrency(self.config.max_concurrent, self.owned_jobs(owner, dialect), self.now())
        except SimError:
            self.rejected["concurrency"] += 1
            raise

    def add_job(self, job: Job) -> Job:
        self._seq += 1
        job.seq = self._seq
        self.jobs[job.id] = job
        for index, gen_id in enumerate(job.generation_ids):
            self.generations[gen_id] = (job.id, index)
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
                status = job.azure_status(now) if job.dialect == "azure" else job.phase(now)
                by_status[status] = by_status.get(status, 0) + 1
        return {
            "calls": dict(self.calls),
            "generations": self.generations_started,
            "jobs": sum(by_status.values()),
            "statuses": by_status,
            "faults": dict(self.faults.counts),
            "rejected": dict(self.rejected),
            "profile": self.profile.name,
            "time_scale": self.config.time_scale,
        }

    def reset_counters(self, *, jobs: bool = False) -> None:
        self.calls = dict.fromkeys(CALL_OPS, 0)
        self.generations_started = 0
        self.rejected = dict.fromkeys(self.rejected, 0)
        self.faults.reset_counts()
        self.limiter.clear()
        if jobs:
            self.jobs.clear()
            self.generations.clear()
            self.characters.clear()
            self.idempotency.clear()
