"""``sora-gateway policies check DIR``: validate everything, say what is wrong as ``file:line: reason``."""

from __future__ import annotations

import sys
from pathlib import Path

from gateway import invocation
from gateway.policies.loader import folder_above, load_policies, looks_like_tenants_folder

PROG = "sora-gateway policies check"


def check_command(directory: str) -> int:
    path = Path(directory)
    again = f"{invocation.command()} policies check"
    if path.is_file():
        parent = path.parent.parent if path.parent.name in ("tenants", "content") else path.parent
        print(
            f"{PROG}: error: {directory} is a file; pass the policies directory "
            f"(the one holding tenants/), e.g. {again} {parent}",
            file=sys.stderr,
        )
        return 2
    if path.is_dir() and looks_like_tenants_folder(path):
        print(
            f"{PROG}: error: {directory} looks like the tenants folder; pass its parent (the policies folder): "
            f"{again} {folder_above(path)}",
            file=sys.stderr,
        )
        return 2
    policy, problems = load_policies(directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    tenants = ", ".join(sorted(policy.tenants)) or "-"
    shared = ", ".join(sorted(policy.content_sets)) or "-"
    defaults = "defaults.yaml" if policy.has_defaults else "no defaults file"
    print(f"ok: {len(policy.tenants)} tenant(s) in {directory}: {tenants}; content rule sets: {shared}; {defaults}")
    return 0
