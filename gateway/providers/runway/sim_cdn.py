"""The simulated Runway CDN: a task's output at a presigned URL that needs no key and expires.

Runway's outputs are CloudFront URLs carrying a ``_jwt`` query token, valid 24-48 hours ("fetch the
task again to get fresh URLs", SDK ``task_retrieve_response.py``). Here every task read signs a fresh
URL ``/cdn/{task}/video.mp4?_jwt=<token>`` valid for 24 h x ``--time-scale`` (never past the end of the
asset's own retention, ``--content-ttl``). An expired or forged token is 403 ``AccessDenied``, a
deleted or expired asset 404 ``NoSuchKey`` (the CDN's XML, not Runway's JSON). A request that carries an
``Authorization`` header is refused 400 (as presigned storage refuses a second auth mechanism): a
client must never send its Runway key to the CDN, and this makes one that does fail loudly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from starlette.requests import Request
from starlette.responses import Response

from gateway.simulator.guard import sim_of
from gateway.simulator.jobs import Job
from gateway.simulator.signed import refuse_key, stored_file, xml_error

DAY_S = 86400.0
URL_TTL_S = DAY_S  # the lower end of "24-48 hours", times --time-scale
_SECRET = secrets.token_bytes(32)  # per simulator process


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(payload: str) -> str:
    return _b64(hmac.new(_SECRET, payload.encode("ascii"), hashlib.sha256).digest())


def signed_url(base: str, job: Job, now: float, time_scale: float) -> str:
    """A fresh presigned URL of ``job``'s video, good for 24 h x time-scale (or until the asset goes)."""
    expires = job.expires(now)
    exp = now + URL_TTL_S * time_scale
    exp = min(exp, expires) if expires is not None else exp
    payload = _b64(json.dumps({"task": job.id, "exp": exp}).encode())
    return f"{base.rstrip('/')}/cdn/{job.id}/video.mp4?_jwt={payload}.{_sign(payload)}"


def _claims(token: str) -> dict[str, object] | None:
    payload, _, signature = token.partition(".")
    if not payload or not hmac.compare_digest(signature, _sign(payload)):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


async def cdn_video(request: Request) -> Response:
    refused = refuse_key(request, "runway_cdn")
    if refused is not None:
        return refused
    state = sim_of(request)
    task_id = request.path_params["task_id"]
    claims = _claims(request.query_params.get("_jwt", ""))
    now = state.now()
    exp = claims.get("exp") if claims else None
    if claims is None or claims.get("task") != task_id or not isinstance(exp, (int, float)) or now >= exp:
        return xml_error(403, "AccessDenied", "Access denied: the signature is invalid or has expired.")
    return await stored_file(request, task_id)
