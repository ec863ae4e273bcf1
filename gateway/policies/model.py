"""Typed policy records, parsed from ``policies/tenants/*.yaml``."""

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
    max_prompt_chars: int | None = None
    blocked_terms: tuple[str, ...] = ()
    blocked_patterns: tuple[str, ...] = ()
    sensitive: bool = False
    allowed_styles: tuple[str, ...] | None = None
    moderation: bool = False
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tenant:
    name: str
    api_key_hashes: tuple[str, ...] = ()
    models: tuple[str, ...] | None = None  # None: every model the upstream has
    quotas: Quotas = field(default_factory=Quotas)
    content: ContentRules = field(default_factory=ContentRules)
    cache_scope: str = "tenant"  # tenant | shared | off
    source: str = ""  # file the tenant came from
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


ANONYMOUS = Tenant(name="anonymous", source="--allow-anonymous")
