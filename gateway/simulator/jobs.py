"""Jobs and their lifecycle, computed from the clock (no background tasks).

A job is queued for ``queue_s``, then runs for ``run_s``, then is completed (or fails at
``fail_after`` seconds after creation). Every provider reads the same timeline and names its
phases in its own words (its profile's ``status``); :meth:`Job.late` says whether a job is in the
later part of its phase, for providers with more status words than phases.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gateway.media.render import Segment
from gateway.simulator.config import QUEUE_SECONDS, RUN_BASE_SECONDS, RUN_PER_SECOND

QUEUED, RUNNING, DONE, FAILED = "queued", "in_progress", "completed", "failed"
ACTIVE = frozenset({QUEUED, RUNNING})
Failure = tuple[str, str]  # (code, message)


def random_id(prefix: str, length: int, alphabet: str) -> str:
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def durations(gen_seconds: float, time_scale: float, slowdown: float = 1.0, variants: int = 1) -> tuple[float, float]:
    """(queued seconds, in-progress seconds) of one generation, already time-scaled.

    ``slowdown``: the model's generation time relative to the base one; each variant beyond the
    first adds half.
    """
    run = (RUN_BASE_SECONDS + RUN_PER_SECOND * gen_seconds) * slowdown * (1 + 0.5 * (variants - 1))
    return QUEUE_SECONDS * time_scale, run * time_scale


@dataclass
class Job:
    id: str
    owner: str
    provider: str  # whose routes made it (and may see it)
    kind: str  # the provider's name for the operation that made it
    model: str  # as requested
    base_model: str
    prompt: str
    size: str  # "WxH"
    segments: tuple[Segment, ...]
    created: float
    queue_s: float
    run_s: float
    ttl_s: float
    fail_after: float | None = None  # seconds after creation at which the job fails
    failure: Failure | None = None
    source_id: str | None = None  # the job this one was made from (a remix's source)
    variant_ids: tuple[str, ...] = ()  # ids of the videos it renders, when a provider names each one
    deleted: bool = False
    expired_at: float | None = None  # set by /_sim/expire
    seq: int = 0

    @property
    def variants(self) -> int:
        return max(1, len(self.variant_ids))

    @property
    def seconds(self) -> int:
        return round(sum(s.seconds for s in self.segments))

    @property
    def width(self) -> int:
        return int(self.size.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.size.split("x")[1])

    @property
    def created_at(self) -> int:
        return int(self.created)

    def _elapsed(self, now: float) -> float:
        return max(0.0, now - self.created)

    def phase(self, now: float) -> str:
        elapsed = self._elapsed(now)
        if self.fail_after is not None and elapsed >= self.fail_after:
            return FAILED
        if elapsed < self.queue_s:
            return QUEUED
        if elapsed < self.queue_s + self.run_s:
            return RUNNING
        return DONE

    def late(self, now: float, split: float) -> bool:
        """Whether ``split`` (0..1) of the current phase (queued or in progress) has passed."""
        phase = self.phase(now)
        if phase not in ACTIVE:
            return False
        start, length = (0.0, self.queue_s) if phase == QUEUED else (self.queue_s, self.run_s)
        return self._elapsed(now) - start >= split * length

    def progress(self, now: float) -> int:
        elapsed = min(self._elapsed(now), self.fail_after if self.fail_after is not None else float("inf"))
        if elapsed >= self.queue_s + self.run_s:
            return 100
        if elapsed < self.queue_s or self.run_s <= 0:
            return 0
        return min(99, int(100 * (elapsed - self.queue_s) / self.run_s))

    def finished(self, now: float) -> float | None:
        """When the job reached completed/failed, or None while it runs."""
        phase = self.phase(now)
        if phase == FAILED:
            return self.created + (self.fail_after or 0.0)
        if phase == DONE:
            return self.created + self.queue_s + self.run_s
        return None

    def expires(self, now: float) -> float | None:
        if self.phase(now) != DONE:
            return None
        natural = (self.finished(now) or now) + self.ttl_s
        return min(natural, self.expired_at) if self.expired_at is not None else natural

    def content_ready(self, now: float) -> bool:
        expires = self.expires(now)
        return expires is not None and now < expires and not self.deleted

    def retry_in(self, now: float) -> float:
        """Seconds until this job stops being active (0 when it is not)."""
        end = self.queue_s + self.run_s
        if self.fail_after is not None:
            end = min(end, self.fail_after)
        return max(0.0, self.created + end - now)
