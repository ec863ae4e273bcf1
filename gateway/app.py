"""The Starlette app factory: wires faces, pipeline, stores and upstream. Nothing else."""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway import urls
from gateway.bodyslots import tenant_or_address
from gateway.config import ConfigError, Settings
from gateway.config_enhance import chat_key
from gateway.content import ContentStore, ContentStoreError, LocalContentStore, open_content
from gateway.content.factory import content_url
from gateway.content.records import RecordJanitor
from gateway.content.retention import ContentJanitor
from gateway.content.space import StorageHealth
from gateway.core.plan import PlanOptions
from gateway.core.styles import StyleBook
from gateway.faces import (
    admin_videos,
    batches,
    characters,
    console,
    console_api,
    error_handlers,
    feedback,
    openai_videos,
    ops,
    seed_generations,
    stories,
    upstream_callbacks,
    usage,
)
from gateway.faces.fast_polls import FastPolls
from gateway.faces.router import PollsFirstRouter
from gateway.instrument import instrument
from gateway.jobs.driver import JobDriver
from gateway.jobs.fairqueue import FairQueue
from gateway.jobs.replan import replanner
from gateway.jobs.reroute import reroute
from gateway.media.transcode import WebmSupport
from gateway.middleware import GatewayMiddleware, RequestLimits
from gateway.observability import log
from gateway.pipeline.auth import Authenticator, hash_key
from gateway.pipeline.batch_resume import BatchResumer
from gateway.pipeline.batches import BatchService
from gateway.pipeline.cache import CacheStage
from gateway.pipeline.chat import ChatEndpoint
from gateway.pipeline.console_stats import UsageStats
from gateway.pipeline.content_policy import ContentPolicyStage
from gateway.pipeline.enhance import EnhanceStage, PromptEnhancer
from gateway.pipeline.idempotency import IdempotencyKeys
from gateway.pipeline.planning import Planner
from gateway.pipeline.service import VideoService
from gateway.pipeline.stages import JobEvents, Stage
from gateway.pipeline.storage import StorageStage
from gateway.pipeline.stories import StoryService
from gateway.pipeline.uploads import UploadJanitor
from gateway.policies.holder import PolicyHolder
from gateway.quota.build import build_quota
from gateway.quota.events import QuotaEvents
from gateway.quota.service import QuotaService
from gateway.quota.stages import QuotaStage, RateLimitStage
from gateway.store import open_store
from gateway.store.base import JobStore, StoreError
from gateway.store.snapshots import Snapshots
from gateway.upstream_setup import router_from_settings
from gateway.upstreams.http import use_transport
from gateway.upstreams.routing import UpstreamRouter
from gateway.webhooks.build import Webhooks, build_webhooks


@dataclass
class Context:
    """Everything a request handler may reach, built once per process."""

    settings: Settings
    store: JobStore
    upstream: UpstreamRouter
    content: ContentStore
    driver: JobDriver
    service: VideoService
    policies: PolicyHolder
    auth: Authenticator
    extra_ready_checks: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    closers: list[Callable[[], Any]] = field(default_factory=list)
    starters: list[Callable[[], Any]] = field(default_factory=list)  # awaited just before the driver starts
    quota: QuotaService | None = None
    batches: BatchService | None = None
    stories: StoryService | None = None
    webhooks: Webhooks | None = None
    storage: StorageHealth | None = None
    idempotency: IdempotencyKeys | None = None  # Idempotency-Key on creates (gateway.faces.creates)


def open_or_explain(settings: Settings) -> JobStore:
    """The store, or a :class:`ConfigError` naming ``--store`` (a file that cannot be created, say)."""
    try:
        return open_store(settings.store)
    except (StoreError, ValueError) as exc:
        raise ConfigError(f"--store: {exc}") from None


def open_content_or_explain(settings: Settings) -> ContentStore:
    """The content store, or a :class:`ConfigError` naming the flag that chose its place."""
    flag = "--content-store" if settings.content_store else "--data-dir"
    try:
        return open_content(settings.content_store, settings.data_dir, presign_s=settings.content_presign_s)
    except OSError as exc:
        where = content_url(settings.content_store, settings.data_dir)
        raise ConfigError(f"{flag}: cannot use {where}: {exc.strerror or exc} ({exc.filename or where})") from None
    except (ContentStoreError, ValueError) as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def build_context(settings: Settings) -> Context:
    use_transport(settings.upstream_transport)  # before any adapter (and its client) is made
    store = open_or_explain(settings)
    upstream = router_from_settings(settings)  # upstreams: [...] in order, or the one --upstream
    content = open_content_or_explain(settings)
    # a full local disk (content, or with s3:// the scratch and upload directory) stops admission
    storage = StorageHealth(
        getattr(content, "root", Path(settings.data_dir)), min_free_bytes=settings.content_min_free_bytes
    )
    if isinstance(content, LocalContentStore):
        content.on_write_result = storage.write_result  # a write failing for space stops admission at once
    janitor = ContentJanitor(
        content,
        max_bytes=settings.content_max_bytes,
        max_age_s=settings.content_max_age_s,
        interval_s=settings.content_sweep_s,
    )
    driver = JobDriver(
        store,
        upstream.current,
        content,
        owner=settings.replica_id,
        adapter_of=upstream.adapter_of,  # jobs keep the upstream and dialect they were created on
        lease_ttl_s=settings.lease_ttl_s,
        tick_s=settings.driver_tick_s,
        poll_min_s=settings.poll_min_s,
        poll_max_s=settings.poll_max_s,
        sweep_interval_s=settings.sweep_interval_s,
        status_calls_per_s=settings.status_calls_per_s,
        callback_base_url=settings.public_base_url,  # set: providers that call back are followed by callbacks
        callback_safety_poll_s=settings.callback_safety_poll_s,
        max_attempts=settings.max_segment_attempts,
        retention_s=settings.retention_s,
    )
    queue = driver.queue = FairQueue(  # upstream slots, one lane per configured upstream
        store, max_concurrent=settings.upstream_max_concurrent, lane_of=lambda job: upstream.route_of(job).name
    )
    policies = PolicyHolder(settings.policies, required=not settings.allow_anonymous, reload_s=settings.policy_reload_s)
    auth = Authenticator(policies.current, allow_anonymous=settings.allow_anonymous)
    cache = CacheStage(
        store,
        content,
        ttl_s=settings.cache_ttl_s,
        retention_s=settings.retention_s,
        max_entries=settings.cache_max_entries,
    )
    # admission order: StorageStage (a full disk refuses before anything is charged), ContentPolicyStage,
    # RateLimitStage, CacheStage, QuotaStage (hits and coalesced creates are answered before the quota
    # stage, so they are never charged), EnhanceStage (a paid chat call only for a create that will run)
    quota = build_quota(settings, store)
    content_policy = ContentPolicyStage(lambda: upstream.current().moderate)
    # enhancement's chat model: its own OpenAI-compatible endpoint (enhance_url), else the first upstream's
    chat = ChatEndpoint(settings.enhance_url, chat_key(settings.enhance_api_key_env)) if settings.enhance_url else None
    enhancer = PromptEnhancer(
        (lambda: chat) if chat is not None else upstream.current,
        store,
        model=settings.enhance_model,
        timeout_s=settings.enhance_timeout_s,
        ttl_s=settings.enhance_cache_ttl_s,
        max_chars=settings.max_prompt_chars,
    )
    # a webhook's data is the video as its client reads it: the seed shape for a seed-dialect create
    render = seed_generations.resource_in_dialect(settings)
    webhooks = build_webhooks(settings, store, lambda name: policies.current().tenants.get(name), render)
    # enhancement last: a create refused (rate limit, quota) or answered from the cache never pays for a chat
    # call; the cache key holds the original prompt and the enhancement flag
    stages: list[Stage] = [
        webhooks.stage,
        StorageStage(storage),
        content_policy,
        RateLimitStage(quota),
        cache,
        QuotaStage(quota),
        EnhanceStage(enhancer),
    ]
    # quota first: a job's slot and refund must not depend on the cache index being reachable
    stats = UsageStats(store)  # the console's usage over time, shared by every replica through the store
    events: list[JobEvents] = [QuotaEvents(quota), cache, stats, webhooks.events]
    styles = StyleBook(settings.styles_file or Path(settings.policies) / "styles.yaml")
    planner = Planner(
        PlanOptions(
            max_seconds=settings.max_seconds,
            max_prompt_chars=settings.max_prompt_chars,
            allow_model_upgrade=settings.allow_model_upgrade,
            webm_enabled=WebmSupport(settings.webm_enabled),
            styles=styles,
        )
    )
    # a job that never reached its upstream (down, or turned away for capacity) may move to the next one
    upstream.on_route = functools.partial(reroute, replan=replanner(planner))
    snapshots = Snapshots(store, max_age_s=settings.poll_snapshot_s).attach()  # polls from memory
    service = VideoService(
        store, upstream, driver, content, stages=stages, events=events, planner=planner, snapshots=snapshots
    )
    service.stats = stats
    ctx = Context(
        settings,
        store,
        upstream,
        content,
        driver,
        service,
        policies,
        auth,
        quota=quota,
        storage=storage,
        webhooks=webhooks,
    )
    ctx.starters.append(storage.start)
    ctx.closers.append(storage.stop)
    if chat is not None:
        ctx.closers.append(chat.close)
    kept_s = settings.retention_s + settings.record_grace_s if settings.record_grace_s else None
    ctx.batches = BatchService(service, store, ttl_s=kept_s, lease_ttl_s=settings.lease_ttl_s)
    resumer = BatchResumer(
        ctx.batches, lambda: policies.current().tenants, interval_s=max(1.0, settings.lease_ttl_s / 2)
    )
    ctx.starters.append(resumer.start)  # batches whose maker died half way: the rest of their items
    ctx.closers.append(resumer.stop)
    ctx.stories = StoryService(
        service, store, content, max_seconds=settings.max_seconds, lease_ttl_s=settings.lease_ttl_s
    )
    ctx.stories.refund_unstored = quota.refund_unstored  # a story killed after its charge, before it was stored
    resumer.rounds.append(ctx.stories.clean_orphans)  # scenes of stories whose request died before storing them
    # a finished story makes its scene videos, before its webhook is queued: a client told the story is done
    # finds its scenes done too
    service.events.insert(service.events.index(webhooks.events), ctx.stories)
    driver.on_abandoned.append(ctx.stories.listeners_abandoned)  # its scenes fail rather than wait for ever
    service.views.append(ctx.stories.view)  # a running scene shows its part of the story's progress
    ctx.idempotency = IdempotencyKeys(store, ttl_s=settings.idempotency_ttl_s, lease_ttl_s=settings.lease_ttl_s)
    upload_janitor = UploadJanitor(  # files of finished jobs and of creates that never became one
        Path(settings.data_dir) / "uploads",
        store,
        max_age_s=settings.upload_max_age_s,
        interval_s=settings.upload_sweep_s,
    )
    ctx.starters.append(upload_janitor.start)
    ctx.closers.append(upload_janitor.stop)
    ctx.starters += [policies.start, quota.start]  # hot reload of policies/; quota slots after a restart
    ctx.closers += [policies.stop, quota.close]
    ctx.extra_ready_checks["quota"] = quota.status
    ctx.extra_ready_checks["content"] = lambda: content_status(storage, janitor)
    ctx.starters += [janitor.start, webhooks.sender.start, queue.start]
    ctx.closers += [janitor.stop, webhooks.sender.stop, queue.stop]
    records = RecordJanitor(  # finished jobs' records go record_grace_s after they expire
        store,
        content,
        lambda: policies.current().tenants,
        retention_s=settings.retention_s,
        grace_s=settings.record_grace_s,
        owner=settings.replica_id,
    )
    ctx.starters.append(records.start)
    ctx.closers.append(records.stop)
    ctx.extra_ready_checks["policies"] = policies.status
    ctx.extra_ready_checks["driver"] = driver.status  # the job loop is alive and ticking
    ctx.extra_ready_checks["webhooks"] = webhooks.sender.status
    ctx.extra_ready_checks["queue"] = queue.status
    ctx.extra_ready_checks["styles"] = lambda: {"ok": True, "presets": len(styles.names()), "error": styles.error}
    # store error metrics, quota-limit gauges, secrets the logs mask
    instrument(
        store,
        policies.current,
        secrets=(settings.upstream_api_key, settings.admin_key, chat_key(settings.enhance_api_key_env)),
    )
    return ctx


def content_status(storage: StorageHealth, janitor: ContentJanitor) -> dict[str, Any]:
    """/readyz ``checks.content``: not ready while the disk is full or the content store (bucket) fails."""
    space, kept = storage.status(), janitor.status()
    return {**kept, **space, "ok": bool(space["ok"] and kept["ok"]), "error": space.get("error") or kept["error"]}


def _tenant_of_key(ctx: Context) -> Callable[[str], str | None]:
    """The tenant an API key belongs to under the policies in force (whose body slots a request uses)."""

    def lookup(key: str) -> str | None:
        tenant = ctx.policies.current().by_key_hash.get(hash_key(key))
        return tenant.name if tenant is not None else None

    return lookup


def create_app(settings: Settings, *, context: Context | None = None) -> Starlette:
    ctx = context or build_context(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ctx.policies.load_or_exit()
        try:
            await ctx.content.check()  # a missing bucket or refused keys stop the start, saying which
        except ContentStoreError as exc:
            log.error("content_store_unusable", error=str(exc))
            raise SystemExit(f"content store {exc}; not starting") from None
        await ctx.upstream.start()
        for starter in ctx.starters:  # first: the quota gives surviving jobs their charges back before
            await starter()  # the driver may finish one (a terminal job whose listeners are pending)
        await ctx.driver.start()
        log.info(
            "gateway_started",
            upstream=urls.redact_url(ctx.upstream.base_url),
            upstreams=len(ctx.upstream.routes) if isinstance(ctx.upstream, UpstreamRouter) else 1,
            profile=ctx.upstream.caps.profile,
            store=ctx.store.url,
            replica=settings.replica_id,
            tenants=len(ctx.policies.current().tenants),
        )
        gc.freeze()  # what start-up built lives as long as the process: the collector no longer walks it
        try:
            yield
        finally:
            log.info("gateway_stopping", replica=settings.replica_id)
            await ctx.driver.stop(settings.shutdown_grace_s)
            for closer in ctx.closers:
                await closer()
            await ctx.upstream.close()
            await ctx.store.close()

    router = PollsFirstRouter(  # client polls first: faces/router.py
        [
            *ops.routes,
            *characters.routes,
            *openai_videos.routes,
            *seed_generations.routes,
            *usage.routes,
            *batches.routes,
            *stories.routes,
            *feedback.routes,
            *admin_videos.routes,
            *console.routes,
            *console_api.routes,
            *upstream_callbacks.routes,
        ],
        lifespan=lifespan,
        redirect_slashes=False,  # a 404 naming the path (faces/paths.py), never a redirect built from Host
    )
    app = Starlette(
        middleware=[
            Middleware(
                GatewayMiddleware,
                max_body_bytes=settings.max_body_bytes,
                profile=lambda: ctx.upstream.caps.profile,
                limits=RequestLimits(
                    body_timeout_s=settings.body_timeout_s,
                    body_idle_timeout_s=settings.body_idle_timeout_s,
                    max_concurrent=settings.max_concurrent_requests,
                    body_min_rate_bps=settings.body_min_rate_bps,
                    body_min_rate_grace_s=settings.body_min_rate_grace_s,
                    max_bodies_per_tenant=settings.max_bodies_per_tenant,
                ),
                log_poll_sample=settings.log_poll_sample,
                client_of=tenant_or_address(_tenant_of_key(ctx)),
                fast=FastPolls(ctx).answer,
            )
        ],
        exception_handlers=error_handlers.HANDLERS,
    )
    app.router = router
    app.state.ctx = ctx
    return app
