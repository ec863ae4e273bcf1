"""The console's JSON API, for a team key (its own team) or the admin key (every team, or ``?tenant=``).

- ``GET /v1/gateway/console/usage?range=hour|day|30d``: requests, video-seconds, spend against the
  monthly budget, cache and coalescing savings and refusals by reason, in time buckets
  (``pipeline/console_stats.py``). Served by the gateway itself: it works behind the nginx of
  ``deploy/``, which hides ``/metrics``.
- ``GET /v1/gateway/console/jobs``: the job list, filtered (``status``, ``provider``, ``model``,
  ``tenant``, ``since``, ``until``, ``q``) and paged by ``cursor`` with a bounded scan
  (``pipeline/console_jobs.py``).
- ``GET /v1/gateway/console/jobs/{id}``: one job for its page: what was adapted, its segments and the
  provider of each, its webhook deliveries, its feedback and the lines that fetch it.
- ``GET /v1/gateway/console/providers`` (admin): ``faces/console_providers.py``.
- ``GET /v1/gateway/console/whoami``: the admin or which team a key is (the console's sign-in).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.core.models import Job
from gateway.errors import ApiError, invalid, not_found
from gateway.faces.console_providers import providers
from gateway.faces.console_related import ratings, related
from gateway.faces.http import tenant_of
from gateway.faces.openai_videos import video_resource
from gateway.faces.usage import require_admin
from gateway.pipeline.auth import is_admin_key
from gateway.pipeline.console_jobs import JobFilter, find_jobs
from gateway.pipeline.console_stats import RANGES, UsageStats
from gateway.policies.model import ANONYMOUS, Tenant
from gateway.webhooks.outbox import OUTBOX, SENT, delivery_id

STATUSES = ("queued", "in_progress", "completed", "failed")


def _teams(request: Request) -> tuple[bool, dict[str, Tenant]]:
    """(admin?, the teams the caller may see)."""
    ctx = request.app.state.ctx
    if is_admin_key(ctx.settings.admin_key, request.headers.get("authorization")):
        require_admin(request)
        tenants = dict(ctx.policies.current().tenants)
        if ctx.settings.allow_anonymous:
            tenants.setdefault(ANONYMOUS.name, ANONYMOUS)
        wanted = request.query_params.get("tenant")
        if wanted:
            if wanted not in tenants:
                raise not_found("tenant", wanted, "tenant")
            return True, {wanted: tenants[wanted]}
        return True, tenants
    tenant = tenant_of(request)
    return False, {tenant.name: tenant}


def _stats(request: Request) -> UsageStats:
    stats: UsageStats | None = request.app.state.ctx.service.stats
    if stats is None:
        raise ApiError(404, "Usage over time is not kept on this gateway.", code="not_found")
    return stats


async def usage(request: Request) -> Response:
    admin, teams = _teams(request)
    range_ = request.query_params.get("range", "day")
    if range_ not in RANGES:
        raise invalid(f"Invalid 'range': expected one of {', '.join(RANGES)}.", "range")
    whole = admin and not request.query_params.get("tenant")
    body = await _stats(request).series(range_, None if whole else sorted(teams))
    budgets = [t.quotas.budget_usd_per_month for t in teams.values() if t.name != ANONYMOUS.name]
    spent = 0.0
    quota = request.app.state.ctx.quota
    if quota is not None:
        for team in teams.values():
            spent += (await quota.usage(team))["usage"]["spend_usd_this_month"]
    body["scope"] = "gateway" if whole else ",".join(sorted(teams))
    body["budget"] = {
        "usd_per_month": None if not budgets or None in budgets else round(sum(float(b or 0) for b in budgets), 6),
        "spent_usd_this_month": round(spent, 6),
    }
    return JSONResponse(body)


def _int_param(request: Request, name: str, low: int, high: int, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise invalid(f"Invalid '{name}': expected an integer between {low} and {high}.", name)
    return value


def row(job: Job, admin: bool) -> dict[str, Any]:
    resource = video_resource(job)
    resource["tenant"] = job.tenant
    resource["route"] = job.route
    resource["cache"] = job.cache
    resource["has_thumbnail"] = bool(job.content.get("thumbnail")) or bool(job.content.get("spritesheet"))
    resource["has_video"] = bool(job.content.get("video"))
    resource["thumbnail_variant"] = "thumbnail" if job.content.get("thumbnail") else "spritesheet"
    resource["content_base"] = ("/v1/gateway/admin/videos/" if admin else "/v1/videos/") + job.id
    return resource


async def jobs(request: Request) -> Response:
    admin, teams = _teams(request)
    q = request.query_params
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        raise invalid(f"Invalid 'status': expected one of {', '.join(STATUSES)}.", "status")
    flt = JobFilter(
        status=status,
        provider=q.get("provider") or None,
        model=q.get("model") or None,
        text=(q.get("q") or "").strip() or None,
        since=_int_param(request, "since", 0, 2**40, None),
        until=_int_param(request, "until", 0, 2**40, None),
    )
    limit = _int_param(request, "limit", 1, 100, 25) or 25
    found = await find_jobs(
        request.app.state.ctx.store, sorted(teams), flt, cursor=q.get("cursor") or None, limit=limit
    )
    service = request.app.state.ctx.service
    data = [row(await service.view(job), admin) for job in found.jobs]
    return JSONResponse({"object": "list", "data": data, "next_cursor": found.next_cursor, "scanned": found.scanned})


async def _deliveries(request: Request, job: Job) -> list[dict[str, Any]]:
    webhooks = request.app.state.ctx.webhooks
    if webhooks is None or not hasattr(webhooks, "outbox"):
        return []
    store = request.app.state.ctx.store
    callback = job.requested.get("callback_url")
    out = []
    for event in ("video.completed", "video.failed"):
        for url in webhooks.outbox.targets(job.tenant, event, str(callback) if callback else None):
            msg_id = delivery_id(job.id, event, url)
            if await store.kv_get(SENT + msg_id):
                out.append({"id": msg_id, "event": event, "url": url, "status": "delivered"})
                continue
            raw = await store.doc_get(OUTBOX, msg_id)
            if raw is not None:
                pending = json.loads(raw)
                out.append(
                    {
                        "id": msg_id,
                        "event": event,
                        "url": url,
                        "status": "retrying" if pending.get("attempts") else "pending",
                        "attempts": pending.get("attempts", 0),
                        "last_error": pending.get("last_error"),
                    }
                )
    return out


async def job_detail(request: Request) -> Response:
    admin, teams = _teams(request)
    video_id = request.path_params["video_id"]
    job = await request.app.state.ctx.store.get(video_id)
    if job is None or job.tenant not in teams:
        raise not_found("video", video_id, None)
    job = await request.app.state.ctx.service.view(job)
    body = row(job, admin)
    body["segments"] = [
        {
            "index": s.index,
            "seconds": s.seconds,
            "kind": s.kind,
            "status": str(s.status),
            "attempts": s.attempts,
            "upstream_id": s.upstream_id,
            "provider": job.upstream,
            "route": job.route,
            "error": s.error,
        }
        for s in job.segments
    ]
    body.update(await related(request.app.state.ctx, job, lambda j: row(j, admin), teams[job.tenant]))
    body["webhook_deliveries"] = await _deliveries(request, job)
    body["feedback"] = (await ratings(request.app.state.ctx.store, {job.id})).get(job.id, [])
    base = str(request.base_url).rstrip("/")
    body["fetch"] = {
        "curl": f'curl -H "Authorization: Bearer $OPENAI_API_KEY" -o {job.id}.mp4 {base}/v1/videos/{job.id}/content',
        "python": f'OpenAI(base_url="{base}/v1").videos.download_content("{job.id}").write_to_file("{job.id}.mp4")',
    }
    return JSONResponse(body)


async def whoami(request: Request) -> Response:
    """Who a key is, so the console signs in with one request: the admin, or one team."""
    admin, teams = _teams(request)
    return JSONResponse(
        {
            "object": "gateway.console_identity",
            "role": "admin" if admin else "team",
            "tenant": None if admin else next(iter(teams)),
        }
    )


async def provider_tiles(request: Request) -> Response:
    require_admin(request)
    return JSONResponse(await providers(request))


routes = [
    Route("/v1/gateway/console/whoami", whoami, methods=["GET"]),
    Route("/v1/gateway/console/usage", usage, methods=["GET"]),
    Route("/v1/gateway/console/jobs", jobs, methods=["GET"]),
    Route("/v1/gateway/console/jobs/{video_id}", job_detail, methods=["GET"]),
    Route("/v1/gateway/console/providers", provider_tiles, methods=["GET"]),
]
