"""Admission stage: no new create while the content store cannot be written.

A generation is paid upstream before its video is fetched; accepting one that cannot be kept
would spend money for a video the gateway then has to hold back. So while the store's disk is full
(:class:`gateway.content.space.StorageHealth`), creates of every kind get a 503
``storage_unavailable`` before any other stage has charged anything.
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.models import Job
from gateway.errors import ApiError
from gateway.pipeline.stages import Admission

RETRY_AFTER_S = 30


class Writable(Protocol):
    async def check(self) -> bool: ...


class StorageStage:
    name = "storage"

    def __init__(self, health: Writable) -> None:
        self.health = health

    async def admit(self, admission: Admission) -> Job | None:
        if not await self.health.check():
            raise ApiError(
                503,
                "The gateway cannot store new videos right now (its content store is full); try again later.",
                type="server_error",
                code="storage_unavailable",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return None

    async def undo(self, admission: Admission) -> None:
        return None
