"""The upstream as the rest of the gateway sees it: one adapter plus its detected capabilities.

Detection spends nothing: it reads the model list and probes endpoints with
requests the upstream refuses before any generation. It runs at start and
every ``detect_interval_s``; a pinned profile skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from gateway.core.capabilities import DEFAULT_PROFILE, Capabilities, get_profile
from gateway.observability import UPSTREAM_PROFILE, log
from gateway.upstreams.base import Upstream, UpstreamError
from gateway.upstreams.detect import detect_profile
from gateway.upstreams.registry import make_adapter


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
        self._task: asyncio.Task[None] | None = None
        self._retired: list[Upstream] = []

    def current(self) -> Upstream:
        return self.adapter

    def _switch(self, profile: str, source: str) -> None:
        caps = get_profile(profile)
        if caps.dialect != self.caps.dialect:
            self._retired.append(self.adapter)
            self.adapter = make_adapter(caps.dialect, self.base_url, self._api_key)
        if caps.profile != self.caps.profile:
            log.info("upstream_profile", profile=caps.profile, previous=self.caps.profile, source=source)
        self.caps = caps
        UPSTREAM_PROFILE.info({"profile": caps.profile, "dialect": caps.dialect, "source": source})

    async def detect(self) -> str:
        if self.pinned:
            self._switch(self.pinned, "pinned")
            self.detected_at = time.time()
            return self.pinned
        try:
            profile = await detect_profile(self.base_url, self._api_key)
        except UpstreamError as exc:
            self.last_error = exc.message
            log.warning("upstream_detect_failed", error=exc.message, keeping=self.caps.profile)
            return self.caps.profile
        self.last_error = None
        self.detected_at = time.time()
        self._switch(profile, "detected")
        return profile

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
        }

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        for adapter in [self.adapter, *self._retired]:
            await adapter.close()
