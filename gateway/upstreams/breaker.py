"""A circuit breaker per upstream, fed by every call the gateway makes to it.

``closed``: the upstream answers; new jobs may go to it. After ``failures`` calls in a row that failed
for the upstream's sake (unreachable, 5xx, 429 capacity), it is ``open``: new jobs go to the next
upstream (:mod:`gateway.upstreams.routing`). After ``open_s`` it is ``half_open``: the next call is a
trial (the router's prober sends a free one, its model list; a running job's poll counts too); a
success closes it, a failure opens it again. Jobs already on an upstream stay there whatever its
state: their calls go through (they back off on errors), only the routing of *new* jobs changes.

A create answered 429 (the provider's rate limit, concurrency cap or spent quota) also marks the upstream
*saturated* for its ``Retry-After`` (else ``SATURATED_S``): it takes no new jobs meanwhile, so they go to
the next upstream that can do them at once instead of waiting in this one's queue.

:class:`GuardedUpstream` wraps an adapter and reports each call's outcome; it changes nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

from gateway.observability import REGISTRY, log
from gateway.upstreams.base import ContentStream, GenerationSpec, ListPage, Upstream, UpstreamError, UpstreamVideo

P = "sora_gateway_"
CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
SATURATED_S = 10.0  # no new jobs after a create's 429 that gave no Retry-After
SATURATED_MAX_S = 300.0
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

BREAKER_STATE = Gauge(
    P + "upstream_breaker_state",
    "Circuit breaker of each configured upstream: 0 closed, 1 half-open, 2 open",
    ["upstream"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
BREAKER_TRANSITIONS = Counter(
    P + "upstream_breaker_transitions_total",
    "Circuit breaker state changes, by upstream and the state entered",
    ["upstream", "state"],
    registry=REGISTRY,
)


def counts_against(exc: UpstreamError) -> bool:
    """The upstream's fault (down, failing, out of capacity), not the request's."""
    return exc.status in (0, 408, 429) or exc.status >= 500


class Breaker:
    def __init__(
        self, name: str, *, failures: int = 5, open_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.failures = failures
        self.open_s = open_s
        self.clock = clock
        self._state = CLOSED
        self.in_a_row = 0
        self.opened_at = 0.0
        self.saturated_until = 0.0  # clock time until which a create's 429 keeps new jobs away
        self.last_error: str | None = None
        BREAKER_STATE.labels(name).set(0)

    @property
    def state(self) -> str:
        if self._state == OPEN and self.clock() - self.opened_at >= self.open_s:
            self._enter(HALF_OPEN)
        return self._state

    def _enter(self, state: str) -> None:
        if state == self._state:
            return
        (log.info if state == CLOSED else log.warning)(
            "upstream_breaker", upstream=self.name, state=state, previous=self._state, error=self.last_error
        )
        self._state = state
        BREAKER_STATE.labels(self.name).set(STATE_VALUES[state])
        BREAKER_TRANSITIONS.labels(self.name, state).inc()

    @property
    def accepts_new_jobs(self) -> bool:
        return self.state == CLOSED and self.clock() >= self.saturated_until

    def saturate(self, retry_after: float | None) -> None:
        """A create was turned away for capacity: no new jobs for ``retry_after`` seconds."""
        wait = min(max(retry_after or SATURATED_S, 0.0), SATURATED_MAX_S)
        self.saturated_until = max(self.saturated_until, self.clock() + wait)
        log.info("upstream_saturated", upstream=self.name, for_s=round(wait, 3))

    def success(self) -> None:
        self.in_a_row = 0
        if self.state == HALF_OPEN:  # an open breaker waits out open_s even if a call gets through
            self.last_error = None
            self._enter(CLOSED)

    def failure(self, error: str) -> None:
        self.in_a_row += 1
        self.last_error = error
        state = self.state
        if state == HALF_OPEN or (state == CLOSED and self.in_a_row >= self.failures):
            self.opened_at = self.clock()
            self._enter(OPEN)

    def record(self, exc: BaseException | None) -> None:
        if exc is None:
            self.success()
        elif isinstance(exc, UpstreamError):
            if counts_against(exc):
                self.failure(f"{exc.status or 'unreachable'}: {exc.message}"[:200])
            else:
                self.success()  # it answered; the request was refused

    def status(self) -> dict[str, Any]:
        saturated = max(0.0, self.saturated_until - self.clock())
        return {
            "state": self.state,
            "failures_in_a_row": self.in_a_row,
            "last_error": self.last_error,
            "saturated_for_s": round(saturated, 3),
        }


class GuardedUpstream:
    """An adapter whose every call's outcome feeds a :class:`Breaker`."""

    def __init__(self, inner: Upstream, breaker: Breaker) -> None:
        self.inner = inner
        self.breaker = breaker
        self.name = inner.name
        self.base_url = inner.base_url
        self.lists = getattr(inner, "lists", True)
        self.callbacks = getattr(inner, "callbacks", False)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = await fn(*args, **kwargs)
        except UpstreamError as exc:
            self.breaker.record(exc)
            raise
        self.breaker.record(None)
        return result

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        try:
            return await self._call(self.inner.create, spec)  # type: ignore[no-any-return]
        except UpstreamError as exc:
            if exc.status == 429:
                self.breaker.saturate(exc.retry_after)
            raise

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        return await self._call(self.inner.retrieve, upstream_id)  # type: ignore[no-any-return]

    async def delete(self, upstream_id: str) -> None:
        await self._call(self.inner.delete, upstream_id)

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        return await self._call(self.inner.list_recent, since)  # type: ignore[no-any-return]

    async def list_page(self, after: str | None = None) -> ListPage:
        return await self._call(self.inner.list_page, after)  # type: ignore[no-any-return]

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        return await self._call(self.inner.open_content, upstream_id, variant, range_header)  # type: ignore[no-any-return]

    async def list_models(self) -> list[dict[str, Any]]:
        return await self._call(self.inner.list_models)  # type: ignore[no-any-return]

    async def moderate(self, text: str) -> dict[str, Any] | None:
        return await self._call(self.inner.moderate, text)  # type: ignore[no-any-return]

    async def forward(
        self, method: str, path: str, *, json: Any = None, files: Any = None, data: Any = None
    ) -> tuple[int, Any]:
        return await self._call(self.inner.forward, method, path, json=json, files=files, data=data)  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # adapter-specific helpers (none are calls we must count)
        return getattr(self.inner, name)
