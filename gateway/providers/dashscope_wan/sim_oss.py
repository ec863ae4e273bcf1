"""The simulated result host: a task's video at a signed OSS URL that needs no key and expires.

DashScope's ``output.video_url`` is an OSS URL ``...mp4?Expires=<epoch s>&OSSAccessKeyId=...&Signature=...``
valid 24 h after the task ended ("the video URL is kept for 24 hours"). Here it is
``/oss/dashscope-result/{task}.mp4`` with the same three parameters, ``Expires`` = end + 24 h x
``--time-scale``. A forged signature or a passed ``Expires`` is 403 ``AccessDenied`` ("Request has expired."),
a file gone (``--content-ttl``, ``/_sim/expire``) 404 ``NoSuchKey``: OSS's XML, not DashScope's JSON. A
request carrying an ``Authorization`` header is refused 400 (a signed URL takes no second credential): a
client must never send its DashScope key here, and one that does fails loudly (counted ``wan_oss_with_auth``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from gateway.simulator.guard import sim_of
from gateway.simulator.jobs import Job
from gateway.simulator.signed import refuse_key, stored_file, xml_error

DAY_S = 86400.0
ACCESS_KEY_ID = "LTAI5tSimulatedResultKey"
_SECRET = secrets.token_bytes(32)  # per simulator process


def _sign(task_id: str, expires: int) -> str:
    digest = hmac.new(_SECRET, f"GET\n{task_id}\n{expires}".encode(), hashlib.sha1).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def url_expires(job: Job, now: float, time_scale: float) -> int:
    """``Expires`` of the job's URL: 24 h (x time-scale) after it ended."""
    return int((job.finished(now) or now) + DAY_S * time_scale)


def signed_url(base: str, job: Job, now: float, time_scale: float) -> str:
    expires = url_expires(job, now, time_scale)
    query = f"Expires={expires}&OSSAccessKeyId={ACCESS_KEY_ID}&Signature={_sign(job.id, expires)}"
    return f"{base.rstrip('/')}/oss/dashscope-result/{job.id}.mp4?{query}"


async def oss_video(request: Request) -> Response:
    refused = refuse_key(request, "wan_oss", "Authorization header is not allowed with a signed URL.")
    if refused is not None:
        return refused
    state = sim_of(request)
    task_id = str(request.path_params["task_id"])
    raw = request.query_params.get("Expires", "")
    expires = int(raw) if raw.isascii() and raw.isdigit() else -1
    signature = request.query_params.get("Signature", "")
    now = state.now()
    if expires < 0 or not hmac.compare_digest(signature, _sign(task_id, expires)):
        return xml_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    if now >= expires:
        return xml_error(403, "AccessDenied", "Request has expired.")
    return await stored_file(request, task_id)
