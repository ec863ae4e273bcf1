"""A budget of upstream status calls per second, whatever the number of jobs in flight.

Per-job polling costs one status call per job per interval: 200 MiniMax jobs polled at the provider's
advised 10 s are 20 calls a second. :class:`StatusBudget` caps what one replica spends on one upstream's
per-job status calls at ``rate`` a second, with a burst of ``burst``: over any window of ``w`` seconds at
most ``burst + rate * w`` calls. (A listing sweep's pages, one per hundred jobs, are not budgeted.)

It is a reservation scheduler (GCRA): every call asks for a slot and gets the earliest one the budget
allows, first come, first served. A job's retrieve does not wait holding its lease: :class:`StatusDeferred`
carries the slot, the job's next poll is put there, and when the job comes back the slot is its own
(:meth:`StatusBudget.take`), so every job in flight is polled in turn, none starves.
"""

from __future__ import annotations

import time

FORGET_S = 600.0  # a reservation not taken up for this long is dropped (the job finished or moved)


class StatusDeferred(Exception):
    """Not now: this status call's slot is at ``at`` (``time.time()`` seconds)."""

    def __init__(self, at: float) -> None:
        super().__init__(f"status call deferred to {at:.3f}")
        self.at = at


class StatusBudget:
    """At most ``rate`` status calls a second to one upstream from this replica, ``burst`` at once."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else 5 * rate)
        self._tat = float("-inf")  # theoretical arrival time of the next call (monotonic)
        self._reserved: dict[str, float] = {}  # key -> its slot (monotonic)
        self.deferred = 0  # calls put off to a later slot (for tests and benchmarks)

    def _reserve(self, now: float) -> float:
        tat = max(self._tat, now)
        self._tat = tat + 1 / self.rate
        return max(now, tat - (self.burst - 1) / self.rate)

    def take(self, key: str) -> None:
        """A status call for ``key`` may go now, or :class:`StatusDeferred` names its slot."""
        now = time.monotonic()
        slot = self._reserved.pop(key, None)
        if slot is None:
            self._forget_stale(now)
            slot = self._reserve(now)
        if slot > now + 0.001:
            self._reserved[key] = slot
            self.deferred += 1
            raise StatusDeferred(time.time() + (slot - now))

    def release(self, key: str) -> None:
        """``key`` needs no more status calls: its reservation, if any, is dropped."""
        self._reserved.pop(key, None)

    def _forget_stale(self, now: float) -> None:
        if len(self._reserved) > 64:
            for key in [k for k, at in self._reserved.items() if at < now - FORGET_S]:
                del self._reserved[key]
