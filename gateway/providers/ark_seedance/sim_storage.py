"""The simulated result storage: a succeeded task's ``content.video_url``, a signed URL that needs no key.

Ark's video URLs are TOS (object storage) presigned URLs valid 24 h (``X-Tos-Expires=86400``), signed when the
task succeeds; after 24 h the file is deleted. Here a URL is
``/ark-tos/{task}.mp4?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Date=<when signed>&X-Tos-Expires=86400&
X-Tos-Signature=<hmac>``, good for 86400 s x ``--time-scale`` from its date (and never past the asset's own
``--content-ttl``). A forged or expired signature is 403 ``AccessDenied``, a deleted or expired file 404
``NoSuchKey`` (the store's XML, not Ark's JSON). A request carrying an ``Authorization`` header is refused 400
and counted (``ark_cdn_with_auth``): the Ark key must never be sent to the storage host.
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

URL_TTL_S = 86400
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SECRET = secrets.token_bytes(32)  # per simulator process


def _sign(task_id: str, date: str) -> str:
    return hmac.new(_SECRET, f"{task_id}\n{date}\n{URL_TTL_S}".encode(), hashlib.sha256).hexdigest()


def video_url(base: str, job: Job, signed_at: float) -> str:
    date = datetime.fromtimestamp(signed_at, UTC).strftime(DATE_FORMAT)
    query = (
        f"X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Date={date}&X-Tos-Expires={URL_TTL_S}"
        f"&X-Tos-Signature={_sign(job.id, date)}"
    )
    return f"{base.rstrip('/')}/ark-tos/{job.id}.mp4?{query}"


async def stored_video(request: Request) -> Response:
    refused = refuse_key(request, "ark_cdn")
    if refused is not None:
        return refused
    state = sim_of(request)
    task_id = request.path_params["task_id"]
    query = request.query_params
    date = query.get("X-Tos-Date", "")
    if not hmac.compare_digest(query.get("X-Tos-Signature", ""), _sign(task_id, date)):
        return xml_error(403, "AccessDenied", "The request signature we calculated does not match.")
    signed = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    now = state.now()
    if now >= signed + URL_TTL_S * state.config.time_scale:
        return xml_error(403, "AccessDenied", "Request has expired.")
    return await stored_file(request, task_id)
