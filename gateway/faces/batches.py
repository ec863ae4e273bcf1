"""``POST /v1/gateway/batches``, ``GET /v1/gateway/batches`` and ``GET /v1/gateway/batches/{id}``: several
variations in one request.

Body: ``{"prompt", "n": 2..16}`` or ``{"variations": [str, ...]}`` (with an optional ``prompt`` each
variation is added to), plus any create field (``model``, ``seconds``, ``size``, ``style_preset``,
``callback_url``, …) applied to every video: with ``callback_url`` each video announces its end there
(``video.completed`` / ``video.failed``, the webhook module's deliveries). Answer: ``{"id": "batch_…",
"object": "video.batch", "status", "videos": [video objects]}``; a variation refused after others were
accepted appears as a video object with ``id: null``, ``status: failed`` and its ``error``.

``GET /v1/gateway/batches?limit=20&after=batch_…`` lists the calling team's batches, newest first, as an OpenAI
list: ``{"object": "list", "data": [batches], "first_id", "last_id", "has_more"}``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.core.models import Job
from gateway.errors import invalid, not_found
from gateway.faces.creates import create_like
from gateway.faces.http import SafeJSONResponse as JSONResponse
from gateway.faces.http import tenant_of
from gateway.faces.openai_videos import video_resource
from gateway.faces.requests import CREATE, OPENAI
from gateway.pipeline.batches import Batch, BatchService, batch_status, variation_prompts
from gateway.policies.model import Tenant

BATCH_ID = re.compile(r"^batch_[0-9a-f]{32}$")
MAX_N = 16  # the contract's n: 2..16 (and at most as many variations)
BATCH_FIELDS = {**OPENAI.fields(CREATE), "n": (int,), "variations": (list,)}


def batches(request: Request) -> BatchService:
    service: BatchService = request.app.state.ctx.batches
    return service


def batch_prompts(data: dict[str, Any], most: int) -> list[str]:
    """Validate ``n`` / ``variations`` (exactly one) and return every item's prompt."""
    n, variations, prompt = data.get("n"), data.get("variations"), data.get("prompt")
    if (n is None) == (variations is None):
        raise invalid(f"Provide exactly one of 'n' (2-{most}) or 'variations' (a list of strings).", "n")
    if variations is not None:
        if not variations:
            raise invalid("Invalid 'variations': expected at least one variation.", "variations")
        if len(variations) > most:
            raise invalid(f"Invalid 'variations': {len(variations)} given; at most {most}.", "variations")
        if not all(isinstance(v, str) and v.strip() for v in variations):
            raise invalid("Invalid 'variations': every variation must be a non-empty string.", "variations")
        if len({" ".join(v.split()).casefold() for v in variations}) != len(variations):
            raise invalid("Invalid 'variations': the variations must differ from each other.", "variations")
    else:
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= most:
            raise invalid(f"Invalid 'n': {n!r}; expected an integer from 2 to {most}.", "n")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid("Missing required parameter: 'prompt' (with 'n').", "prompt", "missing_required_parameter")
    return variation_prompts(prompt if isinstance(prompt, str) and prompt.strip() else None, n, variations)


def batch_resource(batch: Batch, jobs: list[Job | None]) -> dict[str, Any]:
    videos: list[dict[str, Any]] = []
    entries = batch.entries()
    jobs = [*jobs, *[None] * (len(entries) - len(jobs))]  # the create's own answer: items not made are pending
    for item, job, prompt in zip(entries, jobs, batch.prompts, strict=True):
        if job is not None:
            videos.append(video_resource(job))
            continue
        if item.get("pending"):  # not made yet (its maker died: a restarted replica makes it)
            videos.append(
                {"id": item.get("video_id"), "object": "video", "status": "queued", "progress": 0, "prompt": prompt}
            )
            continue
        error = item.get("error") or {"message": "The video was deleted.", "type": "invalid_request_error"}
        error = {k: v for k, v in error.items() if k != "status"}
        error.setdefault("code", "video_deleted")
        videos.append(
            {"id": item.get("video_id"), "object": "video", "status": "failed", "prompt": prompt, "error": error}
        )
    counts: dict[str, int] = {}
    for video in videos:
        counts[video["status"]] = counts.get(video["status"], 0) + 1
    return {
        "id": batch.id,
        "object": "video.batch",
        "status": batch_status(jobs, entries),
        "created_at": batch.created_at,
        "n": len(entries),
        "counts": counts,
        "callback_url": batch.callback_url,
        "videos": videos,
    }


async def create_batch(request: Request) -> Response:
    async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
        prompts = batch_prompts(data, MAX_N)
        # callback_url (checked by the webhook stage like any create's) is every video's: each announces its end
        base = OPENAI.request(data)
        batch, jobs = await batches(request).create(tenant, base, prompts, callback_url=base.callback_url)
        return JSONResponse(batch_resource(batch, jobs), headers={"x-sora-gateway-cache": "bypass"})

    async def resume(tenant: Tenant, made: dict[str, Any]) -> Response:  # the same key after its first died
        if not made.get("batch"):
            raise not_found("batch", "")
        batch, jobs = await batches(request).get(tenant, str(made["batch"]))
        return JSONResponse(batch_resource(batch, jobs), headers={"x-sora-gateway-cache": "bypass"})

    # Idempotency-Key, the door's request count, uploads dropped when refused: as every create
    return await create_like(request, answer, fields=BATCH_FIELDS, resume=resume)


async def list_batches(request: Request) -> Response:
    tenant = tenant_of(request)
    q = request.query_params
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= 100:
        raise invalid("Invalid 'limit': expected an integer between 1 and 100.", "limit")
    after = q.get("after")
    if after is not None and not BATCH_ID.match(after):
        raise invalid(f"Invalid 'after': {after[:80]!r} is not a batch id (batch_...).", "after")
    page, has_more = await batches(request).list(tenant, after=after, limit=limit)
    data = [batch_resource(batch, jobs) for batch, jobs in page]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


async def retrieve_batch(request: Request) -> Response:
    batch, jobs = await batches(request).get(tenant_of(request), request.path_params["batch_id"])
    return JSONResponse(batch_resource(batch, jobs))


routes = [
    Route("/v1/gateway/batches", create_batch, methods=["POST"]),
    Route("/v1/gateway/batches", list_batches, methods=["GET"]),
    Route("/v1/gateway/batches/{batch_id}", retrieve_batch, methods=["GET"]),
]
