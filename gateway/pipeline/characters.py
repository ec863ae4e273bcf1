"""Characters (``/v1/videos/characters``): passed through to an upstream that has them, owned by one team.

The upstream knows no teams, so the gateway remembers which team created each character (the store's
``kv``) and answers another team's lookup with a 404, as for videos.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ApiError, not_found
from gateway.policies.model import Tenant
from gateway.store.base import JobStore
from gateway.upstreams.runtime import UpstreamRuntime

OWNER_KEY = "character-owner:"
Upload = tuple[str, bytes, str]  # (filename, bytes, content type)


class CharacterService:
    def __init__(self, store: JobStore, upstream: UpstreamRuntime) -> None:
        self.store = store
        self.upstream = upstream

    def require_supported(self) -> None:
        """A 400 ``unsupported_by_upstream`` when the upstream has no characters (checked before any upload)."""
        caps = self.upstream.caps
        if not caps.has("characters"):
            raise ApiError(
                400,
                f"The upstream behind this gateway ({caps.profile}) does not support characters.",
                code="unsupported_by_upstream",
            )

    async def create(self, tenant: Tenant, name: str, video: Upload) -> tuple[int, Any]:
        """``(status, body)`` of the upstream's answer; a created character is recorded as the team's."""
        self.require_supported()
        status, body = await self.upstream.current().forward(
            "POST", "/videos/characters", files={"video": video}, data={"name": name}
        )
        if status == 200 and isinstance(body, dict) and body.get("id"):
            await self.store.kv_set(OWNER_KEY + str(body["id"]), tenant.name)
        return status, body

    async def get(self, tenant: Tenant, character_id: str) -> tuple[int, Any]:
        self.require_supported()
        if await self.store.kv_get(OWNER_KEY + character_id) != tenant.name:
            raise not_found("character", character_id)
        return await self.upstream.current().forward("GET", f"/videos/characters/{character_id}")
