"""Jobs and their lifecycle, computed from the clock (no background tasks).

A job is queued for ``queue_s``, then runs for ``run_s``, then is completed (or fails
at ``fail_after`` seconds after creation). Both dialects read the same timeline:
OpenAI maps it to ``queued → in_progress → completed | failed``, Azure to
``preprocessing → queued → running → processing → succeeded | failed``.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from gateway.media.render import Segment
from gateway.simulator.config import QUEUE_SECONDS, RUN_BASE_SECONDS, RUN_PER_SECOND
from gateway.simulator.profiles import MODEL_SLOWDOWN

QUEUED, RUNNING, DONE, FAILED = "queued", "in_progress", "completed", "failed"
ACTIVE = frozenset({QUEUED, RUNNING})

# Azure status by (phase, whether in the later part of that phase)
AZURE_STATUS: dict[tuple[str, bool], str] = {
    (QUEUED, False): "preprocessing",
    (QUEUED, True): "queued",
    (RUNNING, False): "running",
    (RUNNING, True): "processing",
    (DONE, False): "succeeded",
    (FAILED, False): "failed",
}
AZURE_LATE_SPLIT: dict[str, float] = {QUEUED: 0.4, RUNNING: 0.8}

_ULID_CHARS = string.digits + "abcdefghjkmnpqrstvwxyz"


def video_id() -> str:
    return "video_" + secrets.token_hex(24)


def azure_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ULID_CHARS) for _ in range(26))


def durations(base_model: str, gen_seconds: float, time_scale: float, variants: int = 1) -> tuple[float, float]:
    """(queued seconds, in-progress seconds) of one generation, already time-scaled."""
    slowdown = MODEL_SLOWDOWN.get(base_model, 1.0) * (1 + 0.5 * (variants - 1))
    run = (RUN_BASE_SECONDS + RUN_PER_SECOND * gen_seconds) * slowdown
    return QUEUE_SECONDS * time_scale, run * time_scale


@dataclass
class Job:
    id: str
    owner: str
    dialect: str  # openai | azure
    kind: str  # create | remix | extend | edit | azure_create
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
    failure: tuple[str, str] | None = None  # (code, message)
    remixed_from: str | None = None
    n_variants: int = 1
    generation_ids: tuple[str, ...] = ()
    deleted: bool = False
    expired_at: float | None = None  # set by /_sim/expire
    seq: int = 0
    extra: dict[str, str] = field(default_factory=dict)

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

    def azure_status(self, now: float) -> str:
        phase = self.phase(now)
        split = AZURE_LATE_SPLIT.get(phase)
        late = False
        if split is not None:
            start, length = (0.0, self.queue_s) if phase == QUEUED else (self.queue_s, self.run_s)
            late = self._elapsed(now) - start >= split * length
        return AZURE_STATUS[(phase, late)]

    def retry_in(self, now: float) -> float:
        """Seconds until this job stops being active (0 when it is not)."""
        end = self.queue_s + self.run_s
        if self.fail_after is not None:
            end = min(end, self.fail_after)
        return max(0.0, self.created + end - now)
