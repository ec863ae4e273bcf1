"""Read and validate a policies directory, reporting problems as ``file:line: reason``.

Layout::

    policies/defaults.yaml          optional: models, quotas, content, cache every tenant inherits
    policies/content/<name>.yaml    shared content rule sets a tenant pulls in with content.include
    policies/tenants/<team>.yaml    one file per team

A tenant inherits from ``defaults.yaml`` every quota and content rule it does not set itself
(and ``models``/``cache`` when absent). Shared rule sets are added on top: their blocked lists
add up and the strictest limit wins. Any problem anywhere makes the whole set invalid: a
half-applied policy is worse than the previous complete one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.policies.model import ContentPolicy, ContentRules, Quotas, RuleSet, Tenant
from gateway.policies.reader import (
    CONTENT_FIELDS,
    Problem,
    Reader,
    cache_scope,
    content_values,
    model_list,
    quota_values,
    webhooks,
)
from gateway.webhooks.outbox import EVENTS

__all__ = ["PolicySet", "Problem", "load_policies", "policy_files"]

KEY_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
TENANT_FIELDS = (
    "tenant",
    "api_keys",
    "models",
    "quotas",
    "content",
    "cache",
    "enhance_prompt",
    "description",
    "webhooks",
)
DEFAULTS_FIELDS = ("models", "quotas", "content", "cache", "enhance_prompt", "description")
SHARED_FIELDS = (*(f for f in CONTENT_FIELDS if f != "include"), "description")
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NO_KEY = (
    'nobody can sign in as tenant {name!r}; add api_keys: ["sha256:..."] with the hash of each key the team '
    "sends (`sora-gateway keys hash KEY` prints it)"
)


@dataclass
class PolicySet:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    by_key_hash: dict[str, Tenant] = field(default_factory=dict)
    directory: str = ""
    content_sets: dict[str, ContentRules] = field(default_factory=dict)
    has_defaults: bool = False


@dataclass
class _Defaults:
    models: tuple[str, ...] | None = None
    quotas: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None
    enhance_prompt: bool | None = None


def policy_files(directory: str | Path) -> list[Path]:
    """Every file the policy set is read from (what hot reload watches)."""
    root = Path(directory)
    files = [root / "defaults.yaml", root / "defaults.yml"]
    for sub in ("tenants", "content"):
        files += sorted((root / sub).glob("*.y*ml"))
    return [f for f in files if f.is_file()]


def _shared_sets(root: Path, problems: list[Problem]) -> dict[str, ContentRules]:
    sets: dict[str, ContentRules] = {}
    for path in sorted((root / "content").glob("*.y*ml")):
        r = Reader(path, problems)
        node = r.root()
        values = content_values(r, node, set(), known=SHARED_FIELDS) if node is not None else {}
        sets[path.stem] = ContentRules(**values)
    return sets


def _defaults(root: Path, shared: set[str], problems: list[Problem]) -> _Defaults:
    path = next((p for p in (root / "defaults.yaml", root / "defaults.yml") if p.is_file()), None)
    if path is None:
        return _Defaults()
    r = Reader(path, problems)
    fields = r.fields(r.root(), "defaults", DEFAULTS_FIELDS)
    return _Defaults(
        models=model_list(r, fields["models"]) if "models" in fields else None,
        quotas=quota_values(r, fields.get("quotas")),
        content=content_values(r, fields.get("content"), shared),
        cache=cache_scope(r, fields["cache"]) if "cache" in fields else None,
        enhance_prompt=r.flag(fields["enhance_prompt"], "enhance_prompt") if "enhance_prompt" in fields else None,
    )


def _combine(name: str, own: dict[str, Any], base: dict[str, Any], shared: dict[str, ContentRules]) -> ContentPolicy:
    """The tenant's own rules over the defaults', then every included shared set on top."""
    merged = {**base, **own}
    sets: list[RuleSet] = []
    inherited = [base.get(k, ()) if k not in own else () for k in ("blocked_terms", "blocked_patterns")]
    if any(inherited):
        sets.append(RuleSet("defaults", inherited[0], inherited[1], bool(base.get("sensitive"))))
    mine = [own.get("blocked_terms", ()), own.get("blocked_patterns", ())]
    if any(mine):
        sets.append(RuleSet(f"tenant:{name}", mine[0], mine[1], bool(merged.get("sensitive"))))

    def origin(key: str) -> str:
        return f"tenant:{name}" if key in own else "defaults"

    max_chars: int | None = merged.get("max_prompt_chars")
    chars_from = origin("max_prompt_chars") if max_chars is not None else ""
    styles: tuple[str, ...] | None = merged.get("allowed_styles")
    styles_from = origin("allowed_styles") if styles is not None else ""
    moderation = bool(merged.get("moderation"))
    for include in merged.get("include", ()):
        rules = shared.get(include)
        if rules is None:  # already reported as a problem at its line
            continue
        if rules.blocked_terms or rules.blocked_patterns:
            sets.append(RuleSet(f"content/{include}", rules.blocked_terms, rules.blocked_patterns, rules.sensitive))
        if rules.max_prompt_chars is not None and (max_chars is None or rules.max_prompt_chars < max_chars):
            max_chars, chars_from = rules.max_prompt_chars, f"content/{include}"
        allowed = rules.allowed_styles
        if allowed is not None:
            styles_from = f"{styles_from} + content/{include}" if styles is not None else f"content/{include}"
            styles = tuple(s for s in styles if s in allowed) if styles is not None else allowed
        moderation = moderation or rules.moderation
    return ContentPolicy(tuple(sets), max_chars, styles, moderation, chars_from, styles_from)


def parse_tenant(
    path: Path, problems: list[Problem], defaults: _Defaults, shared: dict[str, ContentRules]
) -> Tenant | None:
    r = Reader(path, problems)
    before = len(problems)
    root = r.root()
    if root is None:
        if len(problems) == before:
            r.fail(None, "the file is empty; a tenant file needs at least 'tenant' and 'api_keys'")
        return None
    fields = r.fields(root, "tenant file", TENANT_FIELDS)
    if "tenant" not in fields:
        r.fail(root, "missing required field 'tenant'")
        return None
    name_node = fields["tenant"]
    name = str(name_node.value) if isinstance(name_node, yaml.ScalarNode) else ""
    if not TENANT_NAME.fullmatch(name):
        r.fail(name_node, "tenant must be a name of letters, digits, '-', '_' or '.'")
        return None
    keys: tuple[str, ...] = ()
    if "api_keys" in fields:
        keys = r.str_list(fields["api_keys"], "api_keys")
        for item, key in zip(fields["api_keys"].value, keys, strict=False):
            if not KEY_HASH.match(key):
                r.fail(item, "api_keys entries must be 'sha256:<64 hex digits>' (see `sora-gateway keys hash`)")
        if isinstance(fields["api_keys"], yaml.SequenceNode) and not fields["api_keys"].value:
            r.fail(fields["api_keys"], f"api_keys is empty: {_NO_KEY.format(name=name)}")
    else:
        r.fail(name_node, f"no api_keys: {_NO_KEY.format(name=name)}")
    own_content = content_values(r, fields.get("content"), set(shared))
    content = {**defaults.content, **own_content}
    scope = cache_scope(r, fields["cache"]) if "cache" in fields else None
    enhance = r.flag(fields["enhance_prompt"], "enhance_prompt") if "enhance_prompt" in fields else None
    return Tenant(
        name=name,
        api_key_hashes=tuple(k for k in keys if KEY_HASH.match(k)),
        models=model_list(r, fields["models"]) if "models" in fields else defaults.models,
        quotas=Quotas(**{**defaults.quotas, **quota_values(r, fields.get("quotas"))}),
        content=ContentRules(**content),
        cache_scope=scope or defaults.cache or "tenant",
        enhance_prompt=bool(enhance if enhance is not None else defaults.enhance_prompt),
        source=str(path),
        raw=yaml.safe_load(path.read_text(encoding="utf-8")) or {},
        policy=_combine(name, own_content, defaults.content, shared),
        webhooks=webhooks(r, fields["webhooks"], EVENTS) if "webhooks" in fields else None,
    )


def load_policies(directory: str | Path, *, require_tenants: bool = True) -> tuple[PolicySet, list[Problem]]:
    """Parse the whole directory; the returned set is only meant to be used when there are no problems.

    A directory without a single tenant is a problem (nobody could sign in) unless ``require_tenants``
    is off, as it is for a gateway that lets anonymous requests in.
    """
    root = Path(directory)
    problems: list[Problem] = []
    policy = PolicySet(directory=str(root))
    if not root.is_dir():
        return policy, [Problem(str(root), 0, "policies directory does not exist")]
    policy.content_sets = _shared_sets(root, problems)
    defaults = _defaults(root, set(policy.content_sets), problems)
    policy.has_defaults = any(p.name.startswith("defaults.") for p in policy_files(root))
    for path in sorted((root / "tenants").glob("*.y*ml")):
        before = len(problems)
        tenant = parse_tenant(path, problems, defaults, policy.content_sets)
        if tenant is None or len(problems) > before:
            continue
        if tenant.name in policy.tenants:
            other = policy.tenants[tenant.name].source
            problems.append(Problem(str(path), 1, f"tenant {tenant.name!r} is also defined in {other}"))
            continue
        clash = next((k for k in tenant.api_key_hashes if k in policy.by_key_hash), None)
        if clash:
            other = policy.by_key_hash[clash].name
            problems.append(Problem(str(path), 1, f"an api key is also used by tenant {other!r}"))
            continue
        policy.tenants[tenant.name] = tenant
        policy.by_key_hash.update(dict.fromkeys(tenant.api_key_hashes, tenant))
    if require_tenants and not policy.tenants and not problems:
        problems.append(_no_tenants(root))
    return policy, problems


def looks_like_tenants_folder(root: Path) -> bool:
    """``root`` is a tenants folder given in place of the policies folder that holds it (its parent)."""
    return root.resolve().name == "tenants" and not (root / "tenants").is_dir()


def folder_above(root: Path) -> Path:
    """``policies/tenants`` -> ``policies``; ``tenants`` -> ``.``; ``.`` (inside tenants/) -> the absolute parent."""
    return root.parent if root.name == "tenants" else root.resolve().parent


def _no_tenants(root: Path) -> Problem:
    """Nobody could sign in; the problem names a path that exists (the folder, or a misplaced file)."""
    if looks_like_tenants_folder(root):
        return Problem(
            str(root),
            0,
            f"no tenants: this looks like the tenants folder; pass its parent, the policies folder "
            f"({folder_above(root)})",
        )
    loose = sorted(p for p in root.glob("*.y*ml") if p.stem not in ("defaults", "styles"))
    if loose:
        reason = (
            f"no tenants: tenant files go in {root / 'tenants'}/, not in {root} ({', '.join(p.name for p in loose)})"
        )
        return Problem(str(loose[0]), 1, reason)
    return Problem(str(root), 0, _none_reason(root))


def _none_reason(root: Path) -> str:
    return (
        f"no tenants: add one file per team (tenant, api_keys) to {root / 'tenants'}/; a gateway without "
        "tenants refuses every key (only serve --allow-anonymous runs without one)"
    )
