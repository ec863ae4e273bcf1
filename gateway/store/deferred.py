"""Keyed values a create writes with its job: one durable write for admission (issue 20, item 2).

While admission runs (:func:`collecting`, around the stages and the job's launch), a module that would
write a keyed value through to the store (the in-process quota's day and month counters) may hand it
over instead (:func:`defer`): a function that renders the values *when the job is written*, so the
record, its lease and these values commit in one transaction (``JobStore.put_held``). Rendered at write
time, the values are the latest totals (never an older one written after a newer one).

What is not taken with a job (a create refused, answered from the cache, failed before its job was
stored) is written on its own when admission ends (:func:`flush`), as it would have been at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from gateway.store.base import JobStore, Values

Render = Callable[[], Values]

_PENDING: ContextVar[dict[str, Render] | None] = ContextVar("deferred_values", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[dict[str, Render]]:
    """Collect deferred values in this context (admission's) until the block ends."""
    pending: dict[str, Render] = {}
    token = _PENDING.set(pending)
    try:
        yield pending
    finally:
        _PENDING.reset(token)


def defer(name: str, render: Render) -> bool:
    """Hand ``render`` to the job's write (the latest one by ``name`` wins); False when nothing collects."""
    pending = _PENDING.get()
    if pending is None:
        return False
    pending[name] = render
    return True


def take(pending: dict[str, Render]) -> Values:
    """The values to write with the job now (rendered now); taken, they are not flushed again."""
    values = [value for render in pending.values() for value in render()]
    pending.clear()
    return values


async def flush(store: JobStore, pending: dict[str, Render]) -> None:
    """Write what no job took, each value on its own (as it would have been written at once)."""
    for key, value, ttl_s in take(pending):
        await store.kv_set(key, value, ttl_s=ttl_s)
