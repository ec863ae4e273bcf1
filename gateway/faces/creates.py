"""The door every create-like route goes through: rate count, body checks, idempotency, upload cleanup.

A face opts in by answering its create with :func:`create_like`::

    async def create_thing(request: Request) -> Response:
        async def answer(tenant: Tenant, data: dict[str, Any]) -> Response:
            ...  # build the request, call the service, render the response
        return await create_like(request, answer, fields=FIELDS, required=("prompt",))

In order: the caller's key; the request counted against ``requests_per_minute`` before its body is
read (so refused requests count too, and an over-limit client's body is never kept); the body parsed
and its fields checked before any uploaded file is kept; then, with an ``Idempotency-Key`` header,
:class:`~gateway.pipeline.idempotency.IdempotencyKeys` runs ``answer`` at most once per key and body.
Files kept for a request that did not make a new video (refused, failed, or a replay) are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.core.models import Reference
from gateway.faces.http import read_body, tenant_of
from gateway.faces.resources import uploads
from gateway.pipeline.idempotency import Answer, IdempotencyKeys
from gateway.policies.model import Tenant
from gateway.quota.stages import count_request

Answerer = Callable[[Tenant, dict[str, Any]], Awaitable[Response]]
# the answer for the work an Idempotency-Key's first request made before it died: the claim's record
# (``jobs``: the videos it stored, ``batch``: the batch it saved)
Resumer = Callable[[Tenant, dict[str, Any]], Awaitable[Response]]
REPLAYED_HEADERS = ("content-type", "openai-poll-after-ms", "location")
REPLAYED_PREFIXES = ("x-sora-gateway-",)


def fingerprint(request: Request, data: dict[str, Any]) -> str:
    """What makes two requests "the same": route, path parameters and body (a file by its sha256)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Reference):
            ref = {k: v for k, v in asdict(value).items() if k != "path" and v is not None}
            return {"__file__": ref}
        raise TypeError(type(value).__name__)

    route = f"{request.method} {request.scope.get('route_path') or request.url.path}"
    text = json.dumps([route, request.path_params, data], sort_keys=True, default=plain, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _answer_of(response: Response) -> Answer:
    headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS or k.startswith(REPLAYED_PREFIXES)}
    return Answer(response.status_code, bytes(response.body).decode("utf-8"), headers)


def _discard(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


async def create_like(
    request: Request,
    answer: Answerer,
    *,
    fields: dict[str, tuple[type, ...]],
    required: tuple[str, ...] = (),
    resume: Resumer | None = None,
) -> Response:
    """Answer a create-like request (see the module doc); ``answer`` makes the video and renders it; ``resume``
    renders what a same-key request made before its process died (the retry takes its claim over)."""
    tenant = tenant_of(request)
    ctx = request.app.state.ctx
    if ctx.quota is not None:
        request.state.response_headers = {
            **(getattr(request.state, "response_headers", None) or {}),
            **await count_request(ctx.quota, tenant, at_door=True),
        }
    made_new = False
    try:
        key = request.headers.get("idempotency-key")
        if key is not None:
            IdempotencyKeys.check_key(key)  # before the body: a bad header keeps nothing
        data = await read_body(request, uploads(request), fields, required)
        if key is None:
            response = await answer(tenant, data)
            made_new = 200 <= response.status_code < 300
            return response

        async def produce() -> Answer:
            return _answer_of(await answer(tenant, data))

        async def resumed(record: dict[str, Any]) -> Answer:
            assert resume is not None
            return _answer_of(await resume(tenant, record))

        keys: IdempotencyKeys = ctx.idempotency
        result, replayed = await keys.run(
            tenant.name, key, fingerprint(request, data), produce, resumed if resume is not None else None
        )
        made_new = not replayed and 200 <= result.status < 300
        headers = {**result.headers, "idempotent-replayed": "true" if replayed else "false"}
        return Response(result.body, status_code=result.status, headers=headers)
    finally:
        if not made_new:
            _discard(getattr(request.state, "saved_uploads", None) or [])
