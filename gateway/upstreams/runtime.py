"""The upstream as the rest of the gateway sees it: one adapter plus its detected capabilities.

Detection spends nothing: it reads the model list and probes endpoints with
requests the upstream refuses before any generation. It runs at start and
every ``detect_interval_s``; a pinned profile skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any

from gateway.core.capabilities import DEFAULT_PROFILE, Capabilities, get_profile
from gateway.observability import UPSTREAM_PROFILE, log
from gateway.upstreams.base import Upstream, UpstreamError
from gateway.upstreams.detect import Detection, detect
from gateway.upstreams.registry import make_adapter


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
    def __init__(self, base_url: str, api_key: str, *, pinned: str | None = None, interval_s: float = 300.0) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self.pinned = pinned
        self.interval_s = interval_s
        self.caps: Capabilities = get_profile(pinned or DEFAULT_PROFILE)
        self.adapter: Upstream = make_adapter(self.caps.dialect, base_url, api_key)
        self.detected_at: float | None = None
        self.last_error: str | None = None
        self.evidence: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._retired: list[Upstream] = []

    def current(self) -> Upstream:
        return self.adapter

    def _switch(self, profile: str, source: str, listed: list[str] | None = None) -> None:
        caps = narrowed(get_profile(profile), listed or [])
        if caps.dialect != self.caps.dialect:
            self._retired.append(self.adapter)
            self.adapter = make_adapter(caps.dialect, self.base_url, self._api_key)
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
            found: Detection = await detect(self.base_url, self._api_key)
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
        if not self.pinned and self.interval_s > 0:
            self._task = asyncio.create_task(self._redetect(), name="upstream-detect")

    async def _redetect(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            with contextlib.suppress(Exception):
                await self.detect()

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
        for adapter in [self.adapter, *self._retired]:
            await adapter.close()
