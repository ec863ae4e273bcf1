"""Tell upstream versions apart without paying for a generation: the probes' orchestrator.

Each provider brings a probe (``gateway/providers/<name>/probe.py``): requests its upstream answers
before any generation starts (a list of jobs, the model list, an empty create on a version-specific
endpoint: a validation error, 400/422, proves the endpoint exists; 404 proves it does not). A probe
answers a :class:`Detection`, ``None`` (not this provider), raises :class:`Inconclusive` (a rate
limit, a 5xx) or :class:`UpstreamError` (the key was refused). The probes run in the catalog's
order on one client; a dropped connection or an inconclusive answer retries the whole round, then
detection is reported as failed (the runtime keeps the profile it had).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from gateway.upstreams.base import UpstreamError

EXISTS, ABSENT = frozenset({400, 422}), frozenset({404, 405})


@dataclass
class Detection:
    profile: str
    models: list[str] = field(default_factory=list)  # model ids the upstream lists ([] = unknown)
    evidence: list[str] = field(default_factory=list)  # the answers that decided it


class Inconclusive(Exception):
    pass


# (client, configured base URL, key, evidence so far) -> the profile it found, or None: not this provider
Probe = Callable[[httpx.AsyncClient, str, str, list[str]], Awaitable[Detection | None]]


def transient(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def refused(status: int) -> UpstreamError:
    return UpstreamError(status, "the upstream refused the gateway's key")


async def listed_models(client: httpx.AsyncClient, url: str, evidence: list[str]) -> list[str]:
    """The ids of a ``{"data": [{"id": ...}]}`` model list (the OpenAI family's); [] when there is none."""
    response = await client.get(url)
    evidence.append(f"GET {httpx.URL(url).path} -> {response.status_code}")
    if response.status_code in (401, 403):
        raise refused(response.status_code)
    if transient(response.status_code):
        raise Inconclusive(evidence[-1])
    if response.status_code != 200:
        return []
    try:
        return [str(m["id"]) for m in response.json().get("data", []) if isinstance(m, dict) and "id" in m]
    except (ValueError, AttributeError, TypeError):
        return []


async def detect(
    base_url: str,
    api_key: str,
    probes: Sequence[Probe],
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
            evidence: list[str] = []  # every probe's answer, those that said "not mine" too
            async with client:
                for probe in probes:
                    found = await probe(client, base_url, api_key, evidence)
                    if found is not None:
                        return found
            raise UpstreamError(0, "could not detect the upstream version: no provider's probe recognised it")
        except Inconclusive as exc:
            last = f"inconclusive answer ({exc})"
        except httpx.HTTPError as exc:
            last = f"upstream unreachable ({type(exc).__name__})"
    raise UpstreamError(0, f"could not detect the upstream version: {last}")
