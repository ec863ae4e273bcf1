"""Content policy at admission: prompt length, allowed styles, blocked terms and patterns, moderation.

Blocked terms are matched on a normalised form of the text, so case, accents, full-width letters,
invisible characters and spacing tricks do not get around them: ``"GÓRE"``, ``"g o r e"``,
``"g.o.r.e"`` and ``"go\u200bre"`` all match the term ``gore``. A term matches whole words only:
after normalisation it must start and end on word boundaries, though it may span several words
(``"blood bath"`` matches ``bloodbath``), so ``class`` never matches ``ass``. Patterns are regular
expressions tried on the prompt as written and on its normalised form (lowercase, no accents,
words separated by single spaces). The rules come from the tenant, ``defaults.yaml`` and every
included shared set (see :class:`~gateway.policies.model.ContentPolicy`). A refusal is a 400
``content_policy_violation`` naming the rule and its rule set; a set marked ``sensitive`` never
has the matched text echoed. Every accepted create also gets the non-blocking prompt lint.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter

from gateway.core.models import Job
from gateway.errors import ApiError
from gateway.observability import REGISTRY, log
from gateway.pipeline.lint import LINT_HEADER, lint_prompt
from gateway.pipeline.stages import Admission
from gateway.policies.model import ContentPolicy, RuleSet

Moderator = Callable[[str], Awaitable[dict[str, Any] | None]]  # None: the upstream has no moderation

POLICY_REFUSALS = Counter(
    "sora_gateway_policy_refusals_total",
    "Creates refused by content policy, by rule (rule set and kind)",
    ["tenant", "rule"],
    registry=REGISTRY,
)
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Compatibility-decompose, drop accents and invisible format characters, casefold."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf"))
    return "".join(kept).casefold()


class Normalized:
    """A text as words, plus the words run together with the offsets where each word starts."""

    def __init__(self, text: str) -> None:
        words = _WORD.findall(fold(text))
        self.words = " ".join(words)
        self.joined = "".join(words)
        self.bounds: set[int] = {0}
        offset = 0
        for word in words:
            offset += len(word)
            self.bounds.add(offset)

    def has_term(self, term: str) -> bool:
        needle = squash(term)
        if not needle:
            return False
        start = self.joined.find(needle)
        while start != -1:
            if start in self.bounds and start + len(needle) in self.bounds:
                return True
            start = self.joined.find(needle, start + 1)
        return False


@functools.lru_cache(maxsize=4096)
def squash(term: str) -> str:
    return "".join(_WORD.findall(fold(term)))


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def find_blocked(rules: RuleSet, text: str, normalized: Normalized) -> tuple[str, str] | None:
    """``(kind, what matched)`` for the first blocked term or pattern in ``text``, else ``None``."""
    for term in rules.blocked_terms:
        if normalized.has_term(term):
            return "blocked_terms", term
    for pattern in rules.blocked_patterns:
        regex = _compiled(pattern)
        match = regex.search(text) or regex.search(normalized.words)
        if match:
            return "blocked_patterns", pattern
    return None


def violation(tenant: str, rule: str, message: str, param: str | None) -> ApiError:
    POLICY_REFUSALS.labels(tenant, rule).inc()
    log.info("content_policy_refused", tenant=tenant, rule=rule, param=param)
    return ApiError(400, message, param=param, code="content_policy_violation")


class ContentPolicyStage:
    name = "content_policy"

    def __init__(self, moderator: Callable[[], Moderator | None] | None = None) -> None:
        self.moderator = moderator or (lambda: None)

    async def admit(self, adm: Admission) -> Job | None:
        tenant, req = adm.tenant.name, adm.request
        policy = adm.tenant.policy
        texts = [("prompt", req.prompt or "")]
        if req.negative_prompt:
            texts.append(("negative_prompt", req.negative_prompt))
        self.check_length(tenant, policy, req.prompt or "")
        self.check_style(tenant, policy, req.style_preset)
        for param, text in texts:
            self.check_blocked(tenant, policy, param, text)
        if policy.moderation:
            await self.moderate(tenant, req.prompt or "")
        lint = lint_prompt(req.prompt or "")
        if lint:
            adm.headers[LINT_HEADER] = "; ".join(lint)
        return None

    async def undo(self, adm: Admission) -> None:
        return None

    @staticmethod
    def check_length(tenant: str, policy: ContentPolicy, prompt: str) -> None:
        most = policy.max_prompt_chars
        if most is not None and len(prompt) > most:
            where = f" of rule set {policy.max_prompt_chars_from!r}" if policy.max_prompt_chars_from else ""
            raise violation(
                tenant,
                "max_prompt_chars",
                f"Content policy rule max_prompt_chars{where}: the prompt has {len(prompt)} characters; "
                f"at most {most} are allowed (the strictest limit of the team and its included rule sets applies).",
                "prompt",
            )

    @staticmethod
    def check_style(tenant: str, policy: ContentPolicy, style: str | None) -> None:
        allowed = policy.allowed_styles
        if style is None or allowed is None:
            return
        if fold(style).strip() not in {fold(s).strip() for s in allowed}:
            shown = ", ".join(allowed) or "none"
            where = f" of rule set {policy.allowed_styles_from!r}" if policy.allowed_styles_from else ""
            raise violation(
                tenant,
                "allowed_styles",
                f"Content policy rule allowed_styles{where}: style_preset {style!r} is not allowed; allowed: {shown}.",
                "style_preset",
            )

    @staticmethod
    def check_blocked(tenant: str, policy: ContentPolicy, param: str, text: str) -> None:
        normalized = Normalized(text)
        for rules in policy.rule_sets:
            found = find_blocked(rules, text, normalized)
            if found is None:
                continue
            kind, what = found
            shown = (
                "(the list is sensitive: the matched text is not shown)"
                if rules.sensitive
                else f"(matched {'the term' if kind == 'blocked_terms' else 'the pattern'} {what!r})"
            )
            raise violation(
                tenant,
                f"{rules.name}:{kind}",
                f"Content policy rule {kind} of rule set {rules.name!r}: the {param} contains blocked content {shown}.",
                param,
            )

    async def moderate(self, tenant: str, prompt: str) -> None:
        moderator = self.moderator()
        if moderator is None:
            log.warning("moderation_not_supported", tenant=tenant)  # the upstream moderates on its own
            return
        try:
            answer = await moderator(prompt)
            if answer is None:
                log.warning("moderation_not_supported", tenant=tenant)
                return
            result = (answer.get("results") or [{}])[0]
        except Exception as exc:
            log.warning("moderation_failed", tenant=tenant, error=type(exc).__name__)
            raise ApiError(
                503,
                "The moderation check this team requires is unavailable; try again shortly.",
                type="server_error",
                code="moderation_unavailable",
                headers={"Retry-After": "2"},
            ) from None
        if result.get("flagged"):
            categories = sorted(k for k, v in (result.get("categories") or {}).items() if v)
            raise violation(
                tenant,
                "moderation",
                "Content policy rule moderation: the prompt was flagged by the moderation endpoint"
                + (f" (categories: {', '.join(categories)})." if categories else "."),
                "prompt",
            )
