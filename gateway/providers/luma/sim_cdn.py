"""The simulated Luma output storage: a generation's video at a presigned URL that needs no key and expires.

Luma's ``output[].url`` is "presigned, 1hr expiry" (SDK ``generation_output.py``, docs "Get a generation"); a GET
of the generation gives a fresh one. Here every read of a completed generation signs
``/luma-cdn/{id}/video.mp4?X-Amz-Expires=3600&X-Amz-Date=...&X-Amz-Signature=...`` valid for 1 h x
``--time-scale`` (never past the asset's own retention, ``--content-ttl``). Storage answers the way presigned
object storage does (the URL's host and query format are not documented by Luma): an expired or forged signature
is 403 ``AccessDenied``, a gone asset 404 ``NoSuchKey``, and a request that also carries an ``Authorization``
header 400 ``InvalidArgument`` (a second auth mechanism) — so a client that sends its Luma key there fails loudly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.guard import sim_of
from gateway.simulator.jobs import Job

URL_TTL_S = 3600.0  # "valid for one hour", times --time-scale
_SECRET = secrets.token_bytes(32)  # per simulator process


def _sign(generation_id: str, expires: str) -> str:
    return hmac.new(_SECRET, f"{generation_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(base: str, job: Job, now: float, time_scale: float) -> str:
    """A fresh presigned URL of ``job``'s video, good for 1 h x time-scale (or until the asset goes)."""
    until = now + URL_TTL_S * time_scale
    kept = job.expires(now)
    until = min(until, kept) if kept is not None else until
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    exp = f"{until:.3f}"
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={stamp}&X-Amz-Expires=3600&X-Sim-Until={exp}"
        f"&X-Amz-SignedHeaders=host&X-Amz-Signature={_sign(job.id, exp)}"
    )
    return f"{base.rstrip('/')}/luma-cdn/{job.id}/video.mp4?{query}"


def _xml(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


async def cdn_video(request: Request) -> Response:
    state = sim_of(request)
    state.count("luma_cdn")
    if "authorization" in request.headers:
        return _xml(400, "InvalidArgument", "Only one auth mechanism allowed; the URL is already signed.")
    generation_id = request.path_params["generation_id"]
    until = request.query_params.get("X-Sim-Until", "")
    signature = request.query_params.get("X-Amz-Signature", "")
    if not hmac.compare_digest(signature, _sign(generation_id, until)):
        return _xml(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    if state.now() >= float(until):
        return _xml(403, "AccessDenied", "Request has expired")
    job = state.jobs.get(generation_id)
    if job is None or not job.content_ready(state.now()):
        return _xml(404, "NoSuchKey", "The specified key does not exist.")
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, "video", width=job.width, height=job.height)
    return file_response(request, path, media_type)
