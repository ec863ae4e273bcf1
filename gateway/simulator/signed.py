"""What every simulated result host shares: presigned object storage that needs no key and expires.

A provider's ``sim_*`` module keeps its own URL format and signature (TOS, OSS, S3-like, a CDN token); the
answers around them are the object store's, the same everywhere: an XML ``<Error>``, 400 when a request also
carries an ``Authorization`` header (a second auth mechanism: a client must never send its provider key to
the storage host), 404 ``NoSuchKey`` for a file gone, and the video itself from the engine's content store.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.guard import sim_of

SECOND_AUTH = "Only one auth mechanism allowed; the URL is already signed."


def xml_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def refuse_key(request: Request, counter: str, message: str = SECOND_AUTH) -> Response | None:
    """Count the read as ``counter``; a 400 (counted ``<counter>_with_auth``) when it carries a key."""
    state = sim_of(request)
    state.count(counter)
    if "authorization" not in request.headers:
        return None
    state.count(f"{counter}_with_auth")
    return xml_error(400, "InvalidArgument", message)


async def stored_file(request: Request, job_id: str) -> Response:
    """The job's video once its signature held: 404 ``NoSuchKey`` when it is not (or no longer) there."""
    state = sim_of(request)
    job = state.jobs.get(job_id)
    if job is None or not job.content_ready(state.now()):
        return xml_error(404, "NoSuchKey", "The specified key does not exist.")
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, "video", width=job.width, height=job.height)
    return file_response(request, path, media_type)
