"""The policy set in force, replaced atomically when the files change and still valid."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from gateway.observability import log
from gateway.policies.loader import PolicySet, Problem, load_policies


class PolicyHolder:
    def __init__(self, directory: str, *, required: bool = True) -> None:
        self.directory = directory
        self.required = required
        self._current = PolicySet(directory=directory)
        self.problems: list[Problem] = []
        self.loaded_at: float | None = None

    def current(self) -> PolicySet:
        return self._current

    def reload(self) -> bool:
        """Load the directory; keep the old set when the new one has problems."""
        policy, problems = load_policies(self.directory)
        if not self.required and not Path(self.directory).exists():
            policy, problems = PolicySet(directory=self.directory), []
        self.problems = problems
        if problems:
            for problem in problems:
                log.error("policy_problem", problem=str(problem))
            return False
        self._current = policy
        self.loaded_at = time.time()
        log.info("policies_loaded", directory=self.directory, tenants=len(policy.tenants))
        return True

    def load_or_exit(self) -> None:
        if not self.reload():
            for problem in self.problems:
                print(problem, file=sys.stderr)
            raise SystemExit(f"policies in {self.directory} have {len(self.problems)} problem(s); not starting")

    def status(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "directory": self.directory,
            "loaded_at": self.loaded_at,
            "tenants": len(self._current.tenants),
            "problems": [str(p) for p in self.problems],
        }
