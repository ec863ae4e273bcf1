"""Tell upstream versions apart without paying for a generation.

Every probe is a request the upstream answers before any generation starts: a list of Azure jobs,
the model list, and an empty create on a version-specific endpoint (a validation error, 400/422,
proves the endpoint exists; 404 proves it does not). A rate limit, a 5xx or a dropped connection
makes the answer inconclusive: detection is retried, then reported as failed (the runtime keeps
the profile it had).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from gateway.upstreams.azure_sora1 import API_VERSION, JOBS, azure_base
from gateway.upstreams.base import UpstreamError

# OpenAI-dialect feature probes, most capable profile first: (profile, method, path)
OPENAI_PROBES: list[tuple[str, str, str]] = [
    ("openai-2026-03", "POST", "/videos/extensions"),
]
OPENAI_BASELINE = "openai-2025-10"
AZURE_PROFILE = "azure-sora-1"
EXISTS, ABSENT = frozenset({400, 422}), frozenset({404, 405})


@dataclass
class Detection:
    profile: str
    models: list[str] = field(default_factory=list)  # model ids the upstream lists ([] = unknown)
    evidence: list[str] = field(default_factory=list)  # the answers that decided it


class Inconclusive(Exception):
    pass


def _transient(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


async def _models(client: httpx.AsyncClient, url: str, evidence: list[str]) -> list[str]:
    response = await client.get(url)
    evidence.append(f"GET {httpx.URL(url).path} -> {response.status_code}")
    if response.status_code in (401, 403):
        raise UpstreamError(response.status_code, "the upstream refused the gateway's key")
    if _transient(response.status_code):
        raise Inconclusive(evidence[-1])
    if response.status_code != 200:
        return []
    try:
        return [str(m["id"]) for m in response.json().get("data", []) if isinstance(m, dict) and "id" in m]
    except (ValueError, AttributeError, TypeError):
        return []


async def _azure(client: httpx.AsyncClient, base_url: str, api_key: str, evidence: list[str]) -> Detection | None:
    base = azure_base(base_url)
    headers = {"api-key": api_key}
    jobs = await client.get(base + JOBS, params={"api-version": API_VERSION, "limit": "1"}, headers=headers)
    evidence.append(f"GET {httpx.URL(base + JOBS).path} -> {jobs.status_code}")
    explicit = "/openai" in httpx.URL(base_url).path
    if jobs.status_code == 200:
        client.headers["api-key"] = api_key
        models = await _models(client, f"{base}/models?api-version={API_VERSION}", evidence)
        return Detection(AZURE_PROFILE, models, evidence)
    if explicit and jobs.status_code in (401, 403):
        raise UpstreamError(jobs.status_code, "the upstream refused the gateway's key")
    if _transient(jobs.status_code):
        raise Inconclusive(evidence[-1])
    return None


async def _openai(client: httpx.AsyncClient, base_url: str, api_key: str, evidence: list[str]) -> Detection:
    base = base_url.rstrip("/")
    client.headers["Authorization"] = f"Bearer {api_key}"
    models = await _models(client, base + "/models", evidence)
    for profile, method, path in OPENAI_PROBES:
        probe = await client.request(method, base + path, json={})
        evidence.append(f"{method} {httpx.URL(base + path).path} -> {probe.status_code}")
        if probe.status_code in EXISTS:
            return Detection(profile, models, evidence)
        if probe.status_code in (401, 403):
            raise UpstreamError(probe.status_code, "the upstream refused the gateway's key")
        if probe.status_code not in ABSENT:
            raise Inconclusive(evidence[-1])
    return Detection(OPENAI_BASELINE, models, evidence)


async def detect(
    base_url: str,
    api_key: str,
    *,
    timeout: float = 5.0,
    attempts: int = 3,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Detection:
    """The profile of the upstream at ``base_url``; raises :class:`UpstreamError` when it cannot tell."""
    last = "no answer"
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(0.2 * attempt)
        try:
            client = httpx.AsyncClient(timeout=timeout, headers={"User-Agent": "sora-gateway"}, transport=transport)
            evidence: list[str] = []  # every probe's answer, the Azure one too when it says "not Azure"
            async with client:
                azure = await _azure(client, base_url, api_key, evidence)
                return azure or await _openai(client, base_url, api_key, evidence)
        except Inconclusive as exc:
            last = f"inconclusive answer ({exc})"
        except httpx.HTTPError as exc:
            last = f"upstream unreachable ({type(exc).__name__})"
    raise UpstreamError(0, f"could not detect the upstream version: {last}")
