"""Settings of one simulator instance (built from flags, env or code)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.simulator.faults import FaultSpec, parse_faults

# Seconds a job stays queued, and the in-progress time = base + per_second * seconds (real time).
QUEUE_SECONDS = 10.0
RUN_BASE_SECONDS = 30.0
RUN_PER_SECOND = 5.0
# the poll hint a profile sends = clamp(POLL_AFTER_MS * time_scale, MIN, MAX)
POLL_AFTER_MS = 2000
POLL_AFTER_MIN_MS = 50
POLL_AFTER_MAX_MS = 10000
RATE_WINDOW_SECONDS = 60.0


@dataclass
class SimulatorConfig:
    profile: str  # the profile imitated at start (checked against the profiles the app is built with)
    time_scale: float = 1.0
    faults: FaultSpec = field(default_factory=FaultSpec)
    api_keys: tuple[str, ...] = ()  # empty: any non-empty key is accepted
    rpm: int = 0  # create-like requests per minute per API key, 0 = unlimited
    max_concurrent: int = 0  # queued + running jobs per API key, 0 = unlimited
    moderation_words: tuple[str, ...] = ("forbidden", "gore")
    content_ttl: float = 3600.0  # real seconds; multiplied by time_scale
    seed: int | None = None
    ignore_idempotency: bool = False  # like an upstream that does not honour Idempotency-Key
    host: str = "127.0.0.1"
    port: int = 9000

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time-scale must be > 0")
        if self.rpm < 0 or self.max_concurrent < 0:
            raise ValueError("rpm and max-concurrent must be >= 0")
        if isinstance(self.faults, str):
            self.faults = parse_faults(self.faults)

    @property
    def poll_after_ms(self) -> int:
        return int(min(POLL_AFTER_MAX_MS, max(POLL_AFTER_MIN_MS, POLL_AFTER_MS * self.time_scale)))

    @property
    def ttl_seconds(self) -> float:
        return self.content_ttl * self.time_scale

    def accepts(self, key: str) -> bool:
        """Whether ``key`` may call (any non-empty key when no keys are configured)."""
        return bool(key) and (not self.api_keys or key in self.api_keys)


def split_words(value: str | None) -> tuple[str, ...]:
    return tuple(w.strip() for w in (value or "").split(",") if w.strip())
