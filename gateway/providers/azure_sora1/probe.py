"""Is Azure OpenAI Sora 1 behind a URL? One free read of its jobs list (200: it is), then its models.

A plain host (or an OpenAI-style ``…/v1`` base) is asked at ``/openai/v1`` on its origin; a refused key
is only an answer when the URL itself names ``/openai`` (elsewhere it may be another provider's URL).
"""

from __future__ import annotations

import httpx

from gateway.providers.azure_sora1.dialect import API_VERSION, JOBS, azure_base
from gateway.upstreams.detect import Detection, Inconclusive, listed_models, refused, transient

PROFILE = "azure-sora-1"


async def probe(client: httpx.AsyncClient, base_url: str, api_key: str, evidence: list[str]) -> Detection | None:
    base = azure_base(base_url)
    jobs = await client.get(
        base + JOBS, params={"api-version": API_VERSION, "limit": "1"}, headers={"api-key": api_key}
    )
    evidence.append(f"GET {httpx.URL(base + JOBS).path} -> {jobs.status_code}")
    explicit = "/openai" in httpx.URL(base_url).path
    if jobs.status_code == 200:
        client.headers["api-key"] = api_key
        models = await listed_models(client, f"{base}/models?api-version={API_VERSION}", evidence)
        return Detection(PROFILE, models, evidence)
    if explicit and jobs.status_code in (401, 403):
        raise refused(jobs.status_code)
    if transient(jobs.status_code):
        raise Inconclusive(evidence[-1])
    return None
