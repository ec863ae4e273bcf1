"""Tell upstream versions apart without paying for a generation."""

from __future__ import annotations

import httpx

from gateway.upstreams.base import UpstreamError

# (probe path, method, status that proves the endpoint exists) -> profile, most capable first
OPENAI_PROBES: list[tuple[str, str]] = [
    ("/videos/extensions", "openai-2026-03"),
]


async def detect_profile(base_url: str, api_key: str, *, timeout: float = 5.0) -> str:
    """The profile name of the upstream at ``base_url``; raises UpstreamError if it cannot be reached."""
    headers = {"Authorization": f"Bearer {api_key}", "api-key": api_key}
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout) as client:
        try:
            azure = await client.get("/video/generations/jobs", params={"api-version": "preview", "limit": 1})
            if azure.status_code == 200:
                return "azure-sora-1"
            models = await client.get("/models")
            if models.status_code in (401, 403):
                raise UpstreamError(models.status_code, "the upstream refused the gateway's key")
            for path, profile in OPENAI_PROBES:
                # an empty body is refused by validation (400) where the endpoint exists, 404 where it does not
                probe = await client.post(path, json={})
                if probe.status_code in (400, 422):
                    return profile
            return "openai-2025-10"
        except httpx.HTTPError as exc:
            raise UpstreamError(0, f"upstream unreachable ({type(exc).__name__})") from None
