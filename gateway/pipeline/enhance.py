"""Prompt enhancement: ``enhance_prompt: true`` (or the team's default) rewrites the prompt through the
upstream's chat model before it is planned into segments, cached and charged.

- The rewrite asks ``POST /chat/completions`` (model: the ``enhance_model`` setting) to expand the idea
  into a visually rich prompt, as the seed guide does by hand (its section 8.4).
- It is cached in the store's ``kv`` by the *original* prompt (and the model), so the same idea is
  rewritten once and identical creates keep hitting the video cache.
- The video keeps the client's ``prompt`` and shows the rewrite as ``enhanced_prompt``; the change is
  said in ``adapted`` / ``x-sora-gateway-adapted`` as ``prompt->enhanced``.
- Any failure (an upstream without chat completions, such as Azure Sora 1, an error, a timeout, a
  rewrite the team's content rules would block or one that is too long) keeps the original prompt, and
  the header says so: ``prompt->enhanced(failed: <reason>; original used)``. Enhancement never refuses.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from gateway.core.models import Job
from gateway.observability import log
from gateway.pipeline.content_policy import Normalized, find_blocked
from gateway.pipeline.stages import Admission
from gateway.store.base import JobStore, StoreError
from gateway.upstreams.base import Upstream, UpstreamError

KV_PREFIX = "enhance:"
ENHANCED = "prompt->enhanced"
SYSTEM_PROMPT = (
    "You are a video description expert. Expand the basic video idea into a detailed, visually rich prompt "
    "for a video generation AI: subject, setting, lighting, camera, motion. Answer with the prompt only."
)


class EnhanceFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PromptEnhancer:
    """Original prompt -> the upstream chat model's rewrite, cached in the store by the original."""

    def __init__(
        self,
        upstream: Callable[[], Upstream],
        store: JobStore,
        *,
        model: str,
        timeout_s: float = 20.0,
        ttl_s: float = 86400.0,
        max_chars: int = 32000,
    ) -> None:
        self.upstream = upstream
        self.store = store
        self.model = model
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.max_chars = max_chars

    def key(self, prompt: str) -> str:
        return KV_PREFIX + hashlib.sha256(f"{self.model}\0{prompt}".encode()).hexdigest()

    async def enhance(self, prompt: str) -> str:
        """The rewrite of ``prompt``; raises :class:`EnhanceFailed` naming why there is none."""
        key = self.key(prompt)
        try:
            cached = await self.store.kv_get(key)
        except StoreError:
            cached = None
        if cached:
            return cached
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"Basic idea: {prompt}"}]
        try:
            text = await asyncio.wait_for(
                self.upstream().complete_chat(self.model, messages, timeout_s=self.timeout_s), self.timeout_s
            )
        except TimeoutError:
            raise EnhanceFailed("timeout") from None
        except UpstreamError as exc:
            raise EnhanceFailed(exc.code or f"upstream_{exc.status or 'unreachable'}") from None
        if text is None:
            raise EnhanceFailed("unsupported_by_upstream")
        if len(text) > self.max_chars:
            raise EnhanceFailed("too_long")
        if self.ttl_s > 0:
            try:
                await self.store.kv_set(key, text, ttl_s=self.ttl_s)
            except StoreError:
                log.warning("enhance_cache_unavailable")
        return text


def wants_enhancement(adm: Admission) -> bool:
    asked = adm.request.enhance_prompt
    return bool(adm.tenant.enhance_prompt if asked is None else asked)


def blocked_by_policy(adm: Admission, text: str) -> bool:
    """Whether the team's content rules would refuse ``text`` (checked without counting a refusal)."""
    policy = adm.tenant.policy
    if policy.max_prompt_chars is not None and len(text) > policy.max_prompt_chars:
        return True
    normalized = Normalized(text)
    return any(find_blocked(rules, text, normalized) is not None for rules in policy.rule_sets)


class EnhanceStage:
    """Admission stage, after the content policy and the rate limit, before the cache and the quota."""

    name = "enhance"

    def __init__(self, enhancer: PromptEnhancer) -> None:
        self.enhancer = enhancer

    async def admit(self, adm: Admission) -> Job | None:
        job = adm.job
        if job.kind != "create" or not wants_enhancement(adm):
            return None  # remixes, extensions and edits describe a change, not a scene: left as written
        original = adm.request.prompt
        try:
            enhanced = await self.enhancer.enhance(original)
            if blocked_by_policy(adm, enhanced):
                raise EnhanceFailed("content_policy")
        except EnhanceFailed as exc:
            job.adapted.append(f"{ENHANCED}(failed: {exc.reason}; original used)")
            log.warning("prompt_enhance_failed", video_id=job.id, tenant=job.tenant, reason=exc.reason)
            return None
        head = original.rstrip()
        for seg in adm.plan.segments:  # the plan's clauses (style, avoid, continuation) stay after the prompt
            if seg.prompt.startswith(head):
                seg.prompt = enhanced + seg.prompt[len(head) :]
        job.segments = adm.plan.segments
        job.requested["enhanced_prompt"] = enhanced
        job.adapted.append(ENHANCED)
        return None

    async def undo(self, adm: Admission) -> None:
        return None
