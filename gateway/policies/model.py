"""Typed policy records, parsed from ``policies/`` (tenants, shared content rule sets, defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Quotas:
    requests_per_minute: int | None = None
    concurrent_jobs: int | None = None
    video_seconds_per_day: float | None = None
    budget_usd_per_month: float | None = None
    max_seconds_per_request: float | None = None


@dataclass(frozen=True)
class ContentRules:
    """The ``content:`` mapping of a tenant (or of ``defaults.yaml``), or one shared rule-set file."""

    max_prompt_chars: int | None = None
    blocked_terms: tuple[str, ...] = ()
    blocked_patterns: tuple[str, ...] = ()
    sensitive: bool = False  # never echo what matched
    allowed_styles: tuple[str, ...] | None = None
    moderation: bool = False  # also ask the upstream's moderation endpoint
    include: tuple[str, ...] = ()  # shared rule sets: policies/content/<name>.yaml


@dataclass(frozen=True)
class RuleSet:
    """Blocked terms and patterns from one place, named so a refusal can say which rule it was."""

    name: str  # "tenant:acme", "defaults" or "content/<file stem>"
    blocked_terms: tuple[str, ...] = ()
    blocked_patterns: tuple[str, ...] = ()
    sensitive: bool = False


@dataclass(frozen=True)
class ContentPolicy:
    """What is enforced for a tenant once its own rules and every included rule set are combined.

    Blocked lists add up; the strictest limit wins (shortest ``max_prompt_chars``, the styles every
    set allows, moderation when any set asks for it).
    """

    rule_sets: tuple[RuleSet, ...] = ()
    max_prompt_chars: int | None = None
    allowed_styles: tuple[str, ...] | None = None
    moderation: bool = False
    # which rule set each limit came from ("tenant:acme", "defaults", "content/<name>"), for refusals
    max_prompt_chars_from: str = ""
    allowed_styles_from: str = ""


@dataclass(frozen=True)
class Webhooks:
    """A tenant's ``webhooks:``: where its job events go and the secret that signs them (the team's
    webhook and every per-request ``callback_url`` of its videos)."""

    url: str | None = None  # None: no team webhook, only per-request callbacks (signed when a secret is set)
    secret: str | None = field(default=None, repr=False)  # whsec_...; None: deliveries are unsigned
    events: tuple[str, ...] = ("video.completed", "video.failed")


@dataclass(frozen=True)
class Tenant:
    name: str
    api_key_hashes: tuple[str, ...] = ()
    models: tuple[str, ...] | None = None  # None: every model the upstream has
    quotas: Quotas = field(default_factory=Quotas)
    content: ContentRules = field(default_factory=ContentRules)
    cache_scope: str = "tenant"  # tenant | shared | off
    enhance_prompt: bool = False  # creates rewrite their prompt through the upstream's chat model by default
    source: str = ""  # file the tenant came from
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    policy: ContentPolicy = field(default_factory=ContentPolicy)  # content rules in force, includes resolved
    webhooks: Webhooks | None = None


ANONYMOUS = Tenant(name="anonymous", source="--allow-anonymous")
