"""The stage protocol: each admission check is a small object the service runs in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from gateway.core.capabilities import Capabilities
from gateway.core.models import Job, VideoRequest
from gateway.core.plan import Plan
from gateway.policies.model import Tenant


@dataclass
class Admission:
    """A create on its way in: what was asked, what will be run, what to tell the client."""

    tenant: Tenant
    request: VideoRequest
    plan: Plan
    job: Job
    caps: Capabilities
    headers: dict[str, str] = field(default_factory=dict)
    cache_control: str | None = None
    fresh: bool = False  # never answered from the cache nor coalesced (batch variations, stories)
    charged: list[str] = field(default_factory=list)  # stages that must be told if the create is undone


@dataclass
class Created:
    """A create's outcome: the job and the response headers the stages asked for."""

    job: Job
    headers: dict[str, str] = field(default_factory=dict)


class Stage(Protocol):
    name: str

    async def admit(self, admission: Admission) -> Job | None:
        """Raise :class:`~gateway.errors.ApiError` to refuse, return a finished job to answer at once
        (a cache hit), or ``None`` to let the create go on."""

    async def undo(self, admission: Admission) -> None:
        """The create did not happen after all (the upstream refused it): give back what was taken."""


class JobEvents(Protocol):
    async def job_finished(self, job: Job) -> None:
        """A job reached completed or failed."""

    async def job_deleted(self, job: Job) -> None: ...
