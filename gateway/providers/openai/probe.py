"""Which OpenAI Videos version is behind a URL, for free: the model list, then an empty create on an
endpoint only the newer version has (400/422: it exists; 404/405: it does not).

It concludes for any URL that answers like an OpenAI-compatible API, so it runs after the probes of
providers with an endpoint of their own (its :class:`~gateway.providers.base.Provider` says so).
"""

from __future__ import annotations

import httpx

from gateway.upstreams.detect import ABSENT, EXISTS, Detection, Inconclusive, listed_models, refused

# feature probes, most capable profile first: (profile, method, path)
FEATURE_PROBES: list[tuple[str, str, str]] = [
    ("openai-2026-03", "POST", "/videos/extensions"),
]
BASELINE = "openai-2025-10"


async def probe(client: httpx.AsyncClient, base_url: str, api_key: str, evidence: list[str]) -> Detection:
    base = base_url.rstrip("/")
    client.headers["Authorization"] = f"Bearer {api_key}"
    models = await listed_models(client, base + "/models", evidence)
    for profile, method, path in FEATURE_PROBES:
        answer = await client.request(method, base + path, json={})
        evidence.append(f"{method} {httpx.URL(base + path).path} -> {answer.status_code}")
        if answer.status_code in EXISTS:
            return Detection(profile, models, evidence)
        if answer.status_code in (401, 403):
            raise refused(answer.status_code)
        if answer.status_code not in ABSENT:
            raise Inconclusive(evidence[-1])
    return Detection(BASELINE, models, evidence)
