"""Prompt enhancement: ``enhance_prompt: true`` (or the team's default) rewrites the prompt through the
upstream's chat model once the create is admitted: the stage runs after the rate limit, the cache and the quota,
so a refused create or a cache hit never pays for a chat call (the cache key holds the original prompt and the
enhancement flag). A story's scene prompts are each rewritten (its ``enhanced_prompt`` lists them, ``Scene 1: …``).

- The rewrite asks ``POST /chat/completions`` (model: the ``enhance_model`` setting) of the chat endpoint
  ``enhance_url`` names (:mod:`gateway.pipeline.chat`), else of the first upstream, to expand the idea into a
  visually rich prompt, as the seed guide does by hand (its section 8.4).
- A provider that enhances prompts itself (Veo's ``enhancePrompt``) lists ``enhance_prompt`` in its
  capabilities' ``native_fields``: no chat call then; the request carries ``native.enhance_prompt: true``
  for its adapter, and the report says ``prompt->enhanced(by the upstream)``.
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
from gateway.pipeline.chat import ChatModel
from gateway.pipeline.content_policy import Normalized, find_blocked
from gateway.pipeline.stages import Admission
from gateway.store.base import JobStore, StoreError
from gateway.upstreams.base import UpstreamError

KV_PREFIX = "enhance:"
ENHANCED = "prompt->enhanced"
NATIVE = "enhance_prompt"  # in Capabilities.native_fields: the upstream rewrites prompts itself
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
        chat: Callable[[], ChatModel],
        store: JobStore,
        *,
        model: str,
        timeout_s: float = 20.0,
        ttl_s: float = 86400.0,
        max_chars: int = 32000,
    ) -> None:
        self.chat = chat  # the enhance_url endpoint, or the upstream new jobs go to (gateway.pipeline.chat)
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
                self.chat().complete_chat(self.model, messages, timeout_s=self.timeout_s), self.timeout_s
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


def enhances(adm: Admission) -> bool:
    """Whether this create's prompt is to be enhanced (remixes, extensions and edits describe a change: never)."""
    return adm.job.kind in ("create", "story") and wants_enhancement(adm)


def blocked_by_policy(adm: Admission, text: str) -> bool:
    """Whether the team's content rules would refuse ``text`` (checked without counting a refusal)."""
    policy = adm.tenant.policy
    if policy.max_prompt_chars is not None and len(text) > policy.max_prompt_chars:
        return True
    normalized = Normalized(text)
    return any(find_blocked(rules, text, normalized) is not None for rules in policy.rule_sets)


class EnhanceStage:
    """Admission stage, the last one: after the cache and the quota (only a create that runs is enhanced).

    It refuses nothing, so the charge the quota stage made stays right; its rewrite goes into the plan's
    segment prompts after the cache key was taken from the originals."""

    name = "enhance"

    def __init__(self, enhancer: PromptEnhancer) -> None:
        self.enhancer = enhancer

    async def admit(self, adm: Admission) -> Job | None:
        job = adm.job
        if not enhances(adm):
            return None  # remixes, extensions and edits describe a change, not a scene: left as written
        if NATIVE in adm.caps.native_fields:  # the hook for a provider that enhances itself: its adapter is told
            job.requested.setdefault("native", {})[NATIVE] = True
            job.adapted.append(f"{ENHANCED}(by the upstream)")
            return None
        # a create's prompt, or a story's scene prompts (each segment belongs to a scene: scene_of_segment)
        scenes = [str(s["prompt"]) for s in job.requested.get("scenes") or []] if job.kind == "story" else []
        originals = scenes or [adm.request.prompt]
        owners = job.requested.get("scene_of_segment") if scenes else None
        try:
            enhanced = [await self.enhancer.enhance(prompt) for prompt in originals]
            if any(blocked_by_policy(adm, text) for text in enhanced):
                raise EnhanceFailed("content_policy")
        except EnhanceFailed as exc:
            job.adapted.append(f"{ENHANCED}(failed: {exc.reason}; original used)")
            log.warning("prompt_enhance_failed", video_id=job.id, tenant=job.tenant, reason=exc.reason)
            return None
        for index, seg in enumerate(adm.plan.segments):  # the plan's clauses (style, avoid, continuation) stay after
            which = owners[index] if owners and index < len(owners) else 0
            head = originals[which].rstrip()
            if seg.prompt.startswith(head):
                seg.prompt = enhanced[which] + seg.prompt[len(head) :]
        job.segments = adm.plan.segments
        if scenes:
            job.requested["enhanced_prompt"] = "\n".join(f"Scene {i + 1}: {t}" for i, t in enumerate(enhanced))
        else:
            job.requested["enhanced_prompt"] = enhanced[0]
        job.adapted.append(ENHANCED)
        return None

    async def undo(self, adm: Admission) -> None:
        return None
