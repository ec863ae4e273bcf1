"""The policy set in force, replaced atomically when the files change and the new set is valid.

A background task compares the files' modification times and sizes about once a second.
A change that fails validation is refused: the previous set stays in force, every problem
is logged, ``/readyz`` lists them, ``sora_gateway_policy_reload_errors_total`` counts the
refusal and ``sora_gateway_policy_valid`` drops to 0 until the files are fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from gateway.observability import REGISTRY, log
from gateway.policies.loader import PolicySet, Problem, load_policies, policy_files
from gateway.tasks import cancel_and_wait

RELOADS = Counter("sora_gateway_policy_reloads_total", "Policy reloads applied after a file change", registry=REGISTRY)
RELOAD_ERRORS = Counter(
    "sora_gateway_policy_reload_errors_total",
    "Policy changes refused because the new files have problems (the previous policy stays in force)",
    registry=REGISTRY,
)
VALID = Gauge(
    "sora_gateway_policy_valid",
    "1 when the policy files on disk are the valid set in force, 0 when an edit was refused",
    registry=REGISTRY,
    multiprocess_mode="livemin",
)

Fingerprint = tuple[tuple[str, int, int], ...]


class PolicyHolder:
    def __init__(self, directory: str, *, required: bool = True, reload_s: float = 1.0) -> None:
        self.directory = directory
        self.required = required
        self.reload_s = reload_s
        self._current = PolicySet(directory=directory)
        self.problems: list[Problem] = []
        self.loaded_at: float | None = None
        self.refused_at: float | None = None
        self._seen: Fingerprint | None = None
        self._task: asyncio.Task[None] | None = None

    def current(self) -> PolicySet:
        return self._current

    def fingerprint(self) -> Fingerprint:
        found: list[tuple[str, int, int]] = []
        for path in policy_files(self.directory):
            with contextlib.suppress(OSError):
                st = path.stat()
                found.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(found)

    def reload(self) -> bool:
        """Load the directory; keep the old set when the new one has problems."""
        self._seen = self.fingerprint()
        policy, problems = load_policies(self.directory, require_tenants=self.required)
        if not self.required and not Path(self.directory).exists():
            policy, problems = PolicySet(directory=self.directory), []
        self.problems = problems
        if problems:
            for problem in problems:
                log.error("policy_problem", problem=str(problem))
            if self.loaded_at is not None:
                RELOAD_ERRORS.inc()
                self.refused_at = time.time()
                log.error("policy_reload_refused", directory=self.directory, problems=len(problems))
            VALID.set(0)
            return False
        first = self.loaded_at is None
        self._current = policy
        self.loaded_at = time.time()
        self.refused_at = None
        VALID.set(1)
        if not first:
            RELOADS.inc()
        log.info(
            "policies_loaded",
            directory=self.directory,
            tenants=len(policy.tenants),
            content_sets=len(policy.content_sets),
            reload=not first,
        )
        return True

    def load_or_exit(self) -> None:
        if not self.reload():
            for problem in self.problems:
                print(problem, file=sys.stderr)
            raise SystemExit(f"policies in {self.directory} have {len(self.problems)} problem(s); not starting")

    def check_for_changes(self) -> bool | None:
        """Reload when a file was added, removed or changed; ``None`` when nothing changed."""
        if self.fingerprint() == self._seen:
            return None
        return self.reload()

    async def _watch(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.check_for_changes)
            except Exception:  # a watcher that dies silently would freeze the policy
                log.exception("policy_watch_error", directory=self.directory)

    async def start(self) -> None:
        """Watch the files every ``reload_s`` from a background task (started from the app's lifespan)."""
        if self.reload_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._watch(self.reload_s), name="policy-watch")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def status(self) -> dict[str, Any]:
        """For ``/readyz``: ready while a valid set is in force, even when a newer edit was refused."""
        return {
            "ok": self.loaded_at is not None,
            "valid": not self.problems,
            "directory": self.directory,
            "loaded_at": self.loaded_at,
            "refused_at": self.refused_at,
            "tenants": len(self._current.tenants),
            "content_sets": sorted(self._current.content_sets),
            "problems": [str(p) for p in self.problems],
        }
