"""``sora-gateway policies check DIR``."""

from __future__ import annotations

import sys

from gateway.policies.loader import load_policies


def check_command(directory: str) -> int:
    policy, problems = load_policies(directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"ok: {len(policy.tenants)} tenant(s) in {directory}: {', '.join(sorted(policy.tenants)) or '-'}")
    return 0
