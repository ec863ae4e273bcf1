"""The upstream as the rest of the gateway sees it: one adapter plus its detected capabilities.

Detection spends nothing: it reads the model list and probes endpoints with
requests the upstream refuses before any generation. It runs at start and
every ``detect_interval_s``; while it is inconclusive (and ``/readyz`` says so)
it is retried after 1, 2, 4 ... 30 s instead. A pinned profile skips it.

One adapter is kept per dialect seen: a job speaks the dialect of the profile it was created
under (``Job.upstream``, see :meth:`UpstreamRuntime.adapter_for`), so a detected switch of dialect
behind one URL sends new jobs the new way without re-routing the ones in flight. Which profiles,
dialects and probes exist is the provider catalog's (:class:`~gateway.upstreams.catalog.Catalog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any

from gateway.core.capabilities import Capabilities
from gateway.core.models import Job
from gateway.observability import UPSTREAM_PROFILE, log
from gateway.upstreams.base import Upstream, UpstreamError
from gateway.upstreams.breaker import Breaker, GuardedUpstream
from gateway.upstreams.catalog import Catalog
from gateway.upstreams.detect import Detection, detect

RETRY_FIRST_S = 1.0  # an inconclusive detection is retried after 1 s, 2 s, 4 s ... (not detect_interval_s)
RETRY_MAX_S = 30.0


def narrowed(caps: Capabilities, listed: list[str]) -> Capabilities:
    """``caps`` limited to the models the upstream lists (by name or alias); unchanged when none match."""
    real = [name for name in listed if name not in caps.model_substitutes]
    keep = {base for name in real if (base := caps.base_model(name)) is not None}
    if not keep or keep == set(caps.models):
        return caps
    models = {m: sizes for m, sizes in caps.models.items() if m in keep}
    default = caps.default_model if caps.default_model in models else next(iter(models))
    return dataclasses.replace(caps, models=models, default_model=default)


class UpstreamRuntime:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        catalog: Catalog,
        pinned: str | None = None,
        interval_s: float = 300.0,
        name: str = "default",
        breaker: Breaker | None = None,
        model_map: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self.catalog = catalog  # the providers: profiles, adapters, probes
        self.pinned = pinned
        self.interval_s = interval_s
        self.name = name  # which configured upstream this is (Job.route); "default" with one
        self.breaker = breaker  # set: every adapter call feeds it (routing of new jobs reads it)
        self.model_map = dict(model_map or {})  # the operator's client model -> provider model, over the defaults
        self.caps: Capabilities = catalog.capabilities(pinned or catalog.default_profile).with_model_map(self.model_map)
        self._adapters: dict[str, Upstream] = {}  # dialect -> adapter, made on first use
        self.adapter: Upstream = self.adapter_for(self.caps.dialect)
        self.detected_at: float | None = None
        self.last_error: str | None = None
        self.evidence: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def current(self) -> Upstream:
        return self.adapter

    def adapter_for(self, profile_or_dialect: str | None) -> Upstream:
        """The adapter for a profile's dialect (or a dialect's); the current one for anything else
        (records made before jobs named their profile say ``default``)."""
        dialect = self.catalog.dialect_of(profile_or_dialect or "")
        if dialect is None:
            return self.adapter
        if dialect not in self._adapters:
            adapter = self.catalog.adapter(dialect, self.base_url, self._api_key)
            self._adapters[dialect] = GuardedUpstream(adapter, self.breaker) if self.breaker else adapter
        return self._adapters[dialect]

    # the interface the service and driver use, shared with UpstreamRouter (one upstream: itself)
    def pick(self, source: Job | None = None) -> UpstreamRuntime:
        return self

    def candidates(self, source: Job | None = None) -> list[UpstreamRuntime]:
        return [self]

    def adapter_of(self, job: Job) -> Upstream:
        return self.adapter_for(job.upstream)

    def _switch(self, profile: str, source: str, listed: list[str] | None = None) -> None:
        caps = narrowed(self.catalog.capabilities(profile), listed or []).with_model_map(self.model_map)
        if caps.dialect != self.caps.dialect:
            self.adapter = self.adapter_for(caps.dialect)  # the previous one stays for the jobs it runs
        if caps.profile != self.caps.profile:
            log.info("upstream_profile", profile=caps.profile, previous=self.caps.profile, source=source)
        self.caps = caps
        UPSTREAM_PROFILE.info({"profile": caps.profile, "dialect": caps.dialect, "source": source})

    async def detect(self) -> str:
        """Learn the upstream's profile (or apply the pinned one); a failure keeps the current profile."""
        if self.pinned:
            self._switch(self.pinned, "pinned")
            self.detected_at = time.time()
            self.evidence = ["pinned in configuration"]
            return self.pinned
        try:
            found: Detection = await detect(self.base_url, self._api_key, self.catalog.probes())
        except UpstreamError as exc:
            self.last_error = exc.message
            log.warning("upstream_detect_failed", error=exc.message, keeping=self.caps.profile)
            return self.caps.profile
        self.last_error = None
        self.detected_at = time.time()
        self.evidence = found.evidence
        self._switch(found.profile, "detected", found.models)
        return found.profile

    async def start(self) -> None:
        await self.detect()
        if not self.pinned and (self.interval_s > 0 or self.last_error is not None):
            self._task = asyncio.create_task(self._redetect(), name="upstream-detect")

    def _next_detection_s(self, failures: int) -> float | None:
        """Seconds until the next detection: soon (with backoff) while it is inconclusive, else the interval."""
        if failures:
            return min(RETRY_FIRST_S * 2 ** (failures - 1), RETRY_MAX_S, self.interval_s or RETRY_MAX_S)
        return self.interval_s or None  # 0: once it succeeded, never again

    async def _redetect(self) -> None:
        failures = 1 if self.last_error is not None else 0
        while (delay := self._next_detection_s(failures)) is not None:
            await asyncio.sleep(delay)
            with contextlib.suppress(Exception):
                await self.detect()
            failures = failures + 1 if self.last_error is not None else 0

    def status(self) -> dict[str, Any]:
        return {
            "profile": self.caps.profile,
            "dialect": self.caps.dialect,
            "pinned": bool(self.pinned),
            "detected_at": self.detected_at,
            "error": self.last_error,
            "evidence": self.evidence,
            "models": list(self.caps.models),
        }

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        for adapter in self._adapters.values():
            await adapter.close()
