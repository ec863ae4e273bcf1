"""Read and validate a policies directory, reporting problems as ``file:line: reason``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.policies.model import ContentRules, Quotas, Tenant

KEY_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
QUOTA_FIELDS = {f: float for f in Quotas.__dataclass_fields__}
CONTENT_FIELDS = set(ContentRules.__dataclass_fields__)
TENANT_FIELDS = {"tenant", "api_keys", "models", "quotas", "content", "cache", "description"}
CACHE_SCOPES = ("tenant", "shared", "off")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class PolicySet:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    by_key_hash: dict[str, Tenant] = field(default_factory=dict)
    directory: str = ""


class _Reader:
    """Walks a YAML node tree so every problem can name its line."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems

    def fail(self, node: yaml.Node | None, reason: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(Problem(self.path, line, reason))

    def mapping(self, node: yaml.Node | None, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return {}
        return {str(k.value): (k, v) for k, v in node.value}

    def str_list(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode) or not all(isinstance(i, yaml.ScalarNode) for i in node.value):
            self.fail(node, f"{what} must be a list of strings")
            return ()
        return tuple(str(i.value) for i in node.value)

    def number(self, node: yaml.Node, what: str) -> float | None:
        value = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(node, f"{what} must be a number >= 0")
            return None
        return value


def _quotas(r: _Reader, node: yaml.Node | None) -> Quotas:
    values: dict[str, Any] = {}
    for name, (key, value) in r.mapping(node, "quotas").items():
        if name not in QUOTA_FIELDS:
            r.fail(key, f"unknown quota {name!r}; known: {', '.join(QUOTA_FIELDS)}")
            continue
        number = r.number(value, f"quotas.{name}")
        if number is not None:
            values[name] = int(number) if name in ("requests_per_minute", "concurrent_jobs") else number
    return Quotas(**values)


def _content(r: _Reader, node: yaml.Node | None) -> ContentRules:
    values: dict[str, Any] = {}
    for name, (key, value) in r.mapping(node, "content").items():
        if name not in CONTENT_FIELDS:
            r.fail(key, f"unknown content rule {name!r}; known: {', '.join(sorted(CONTENT_FIELDS))}")
        elif name in ("blocked_terms", "blocked_patterns", "allowed_styles", "include"):
            values[name] = r.str_list(value, f"content.{name}")
            if name == "blocked_patterns":
                for item, pattern in zip(value.value, values[name], strict=False):
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        r.fail(item, f"content.blocked_patterns: invalid regular expression {pattern!r}: {exc}")
        elif name in ("sensitive", "moderation"):
            values[name] = bool(yaml.safe_load(yaml.serialize(value)))
        else:
            number = r.number(value, f"content.{name}")
            if number is not None:
                values[name] = int(number)
    return ContentRules(**values)


def parse_tenant(path: Path, problems: list[Problem]) -> Tenant | None:
    r = _Reader(path, problems)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(str(path), (mark.line + 1) if mark else 1, f"not valid YAML: {exc}".splitlines()[0]))
        return None
    fields = r.mapping(root, "a tenant file")
    for name, (key, _) in fields.items():
        if name not in TENANT_FIELDS:
            r.fail(key, f"unknown field {name!r}; known: {', '.join(sorted(TENANT_FIELDS))}")
    if "tenant" not in fields:
        r.fail(root, "missing required field 'tenant'")
        return None
    name_node = fields["tenant"][1]
    name = str(name_node.value) if isinstance(name_node, yaml.ScalarNode) else ""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        r.fail(name_node, "tenant must be a name of letters, digits, '-', '_' or '.'")
        return None
    keys: tuple[str, ...] = ()
    if "api_keys" in fields:
        node = fields["api_keys"][1]
        keys = r.str_list(node, "api_keys")
        for item, key in zip(node.value, keys, strict=False):
            if not KEY_HASH.match(key):
                r.fail(item, "api_keys entries must be 'sha256:<64 hex digits>' (see `sora-gateway keys hash`)")
    models = r.str_list(fields["models"][1], "models") if "models" in fields else None
    scope = "tenant"
    if "cache" in fields:
        cache = r.mapping(fields["cache"][1], "cache")
        if "scope" in cache:
            scope = str(cache["scope"][1].value)
            if scope not in CACHE_SCOPES:
                r.fail(cache["scope"][1], f"cache.scope must be one of {', '.join(CACHE_SCOPES)}")
    return Tenant(
        name=name,
        api_key_hashes=tuple(k for k in keys if KEY_HASH.match(k)),
        models=models,
        quotas=_quotas(r, fields["quotas"][1] if "quotas" in fields else None),
        content=_content(r, fields["content"][1] if "content" in fields else None),
        cache_scope=scope,
        source=str(path),
        raw=yaml.safe_load(path.read_text(encoding="utf-8")) or {},
    )


def load_policies(directory: str | Path) -> tuple[PolicySet, list[Problem]]:
    """Parse every tenant file; the set holds only tenants without problems."""
    root = Path(directory)
    problems: list[Problem] = []
    policy = PolicySet(directory=str(root))
    if not root.is_dir():
        return policy, [Problem(str(root), 1, "policies directory does not exist")]
    for path in sorted((root / "tenants").glob("*.y*ml")):
        before = len(problems)
        tenant = parse_tenant(path, problems)
        if tenant is None or len(problems) > before:
            continue
        if tenant.name in policy.tenants:
            problems.append(
                Problem(str(path), 1, f"tenant {tenant.name!r} is also defined in {policy.tenants[tenant.name].source}")
            )
            continue
        clash = next((k for k in tenant.api_key_hashes if k in policy.by_key_hash), None)
        if clash:
            problems.append(
                Problem(str(path), 1, f"an api key is also used by tenant {policy.by_key_hash[clash].name!r}")
            )
            continue
        policy.tenants[tenant.name] = tenant
        policy.by_key_hash.update(dict.fromkeys(tenant.api_key_hashes, tenant))
    return policy, problems
