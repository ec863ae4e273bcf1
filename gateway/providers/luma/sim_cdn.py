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

from gateway.simulator.guard import sim_of
from gateway.simulator.jobs import Job
from gateway.simulator.signed import refuse_key, stored_file, xml_error

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


async def cdn_video(request: Request) -> Response:
    refused = refuse_key(request, "luma_cdn")
    if refused is not None:
        return refused
    state = sim_of(request)
    generation_id = request.path_params["generation_id"]
    until = request.query_params.get("X-Sim-Until", "")
    signature = request.query_params.get("X-Amz-Signature", "")
    if not hmac.compare_digest(signature, _sign(generation_id, until)):
        return xml_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    if state.now() >= float(until):
        return xml_error(403, "AccessDenied", "Request has expired")
    return await stored_file(request, generation_id)
