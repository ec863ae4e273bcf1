"""``GET /v1/gateway/usage`` (the calling team) and ``GET /v1/gateway/admin/usage`` (every team, admin key)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import ApiError
from gateway.faces.http import tenant_of
from gateway.pipeline.auth import is_admin_key

if TYPE_CHECKING:
    from gateway.quota.service import QuotaService


def _quota(request: Request) -> QuotaService:
    quota: QuotaService | None = request.app.state.ctx.quota
    if quota is None:
        raise ApiError(404, "Usage accounting is not enabled on this gateway.", code="not_found")
    return quota


async def tenant_usage(request: Request) -> Response:
    tenant = tenant_of(request)
    return JSONResponse(await _quota(request).usage(tenant))


def require_admin(request: Request) -> None:
    """The admin key (``SORA_GATEWAY_ADMIN_KEY``, plain or ``sha256:`` form); never a tenant key."""
    configured = request.app.state.ctx.settings.admin_key
    if not configured:
        raise ApiError(403, "The admin API is disabled: no admin key is configured.", code="admin_disabled")
    if not is_admin_key(configured, request.headers.get("authorization")):
        raise ApiError(401, "This endpoint needs the gateway's admin key.", code="invalid_admin_key")
    request.state.tenant = "admin"


async def admin_usage(request: Request) -> Response:
    require_admin(request)
    quota = _quota(request)
    policies = request.app.state.ctx.policies.current()
    wanted = request.query_params.get("tenant")
    if wanted is not None and wanted not in policies.tenants:
        raise ApiError(404, f"No tenant named {wanted!r}.", param="tenant", code="not_found")
    names = [wanted] if wanted else sorted(policies.tenants)
    data = [await quota.usage(policies.tenants[name]) for name in names]
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/v1/gateway/usage", tenant_usage, methods=["GET"]),
    Route("/v1/gateway/admin/usage", admin_usage, methods=["GET"]),
]
