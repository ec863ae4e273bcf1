"""The simulated Gemini API's Veo surface under ``/v1beta``: create, poll, download, models.

``POST /v1beta/models/{model}:predictLongRunning`` answers ``{"name": "models/{model}/operations/{id}"}``
(no ``done``, no progress: Veo has none); ``GET /v1beta/models/{model}/operations/{id}`` answers the
same until the job ends, then ``done: true`` with the samples' file URIs, or Veo's safety filter
(``raiMediaFilteredCount``/``raiMediaFilteredReasons``, no samples: what a moderation word in the
prompt causes, after the operation was accepted, as Veo does), or an ``error`` (code 13: the ``fail``
fault). ``GET /v1beta/files/{id}:download?alt=media`` needs the key and redirects (302) to a signed
storage URL (``/veo-storage/{id}?expires=&signature=``, valid 10 minutes, no key; a request that
carries one is refused: the simulator's tripwire for a leaked key). After the content TTL the file is
gone: 404. The Idempotency-Key header means nothing here, as on the Gemini API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.gemini_veo.sim_fields import parse_create, unknown_model
from gateway.providers.gemini_veo.table import MODEL_NAMES, MODEL_SLOWDOWN
from gateway.simulator.bodies import Body, read_body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.errors import SimError
from gateway.simulator.fields import flagged
from gateway.simulator.generate import start_job
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, Job, random_id

BASE = "/v1beta"
STORAGE = "/veo-storage"
ID_CHARS = string.ascii_lowercase + string.digits
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
FILTERED = "filtered"  # a job's failure code when Veo's safety filter removed its video
FILTER_REASON = (
    "Veo could not generate 1 videos based on the prompt provided. You will not be charged for this "
    "request. Try rephrasing the prompt. If you think this was an error, send feedback. Support codes: 61493863"
)
INTERNAL = ("internal", "Video generation failed due to an internal error. Please try again later.")
STORAGE_TTL_S = 600.0
_SECRET = secrets.token_bytes(32)  # signs this process's storage URLs


def operation_name(job: Job) -> str:
    return f"models/{job.model}/operations/{job.id}"


def file_uri(request: Request, file_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{BASE}/files/{file_id}:download?alt=media"


def operation_json(request: Request, job: Job, now: float) -> dict[str, Any]:
    """The ``google.longrunning.Operation`` of a job at ``now``."""
    name = operation_name(job)
    phase = job.phase(now)
    if phase not in (DONE, FAILED):
        return {"name": name}
    if phase == FAILED and job.failure and job.failure[0] != FILTERED:
        return {"name": name, "done": True, "error": {"code": 13, "message": job.failure[1]}}
    result: dict[str, Any]
    if phase == FAILED:
        result = {"raiMediaFilteredCount": job.variants, "raiMediaFilteredReasons": [FILTER_REASON] * job.variants}
    else:
        samples = [{"video": {"uri": file_uri(request, fid)}} for fid in job.variant_ids]
        result = {"generatedSamples": samples}
    return {"name": name, "done": True, "response": {"@type": RESPONSE_TYPE, "generateVideoResponse": result}}


async def _json_body(request: Request) -> Body:
    try:
        return await read_body(request, allow_form=False)
    except SimError:
        raise SimError(400, "Invalid JSON payload received. Unexpected token.", code="INVALID_ARGUMENT") from None


async def create(request: Request) -> Response:
    caller = await guard(request, "veo_create", create_like=True)
    state = sim_of(request)
    model = request.path_params["model"]
    body = await _json_body(request)
    ask = parse_create(state.profile.caps, model, body.fields)
    job = start_job(
        state,
        caller.key,
        job_id=random_id("", 12, ID_CHARS),
        kind="create",
        model=model,
        base_model=model,
        prompt=ask.prompt,
        size=ask.size,
        segments=[Segment(ask.prompt or "a video", ask.seconds)],
        gen_seconds=ask.seconds,
        fault_failure=INTERNAL,
        slowdown=MODEL_SLOWDOWN.get(model, 1.0),
        variant_ids=tuple(random_id("", 12, ID_CHARS) for _ in range(ask.samples)),
        early_failure=(FILTERED, FILTER_REASON) if flagged(state.config.moderation_words, ask.prompt) else None,
    )
    await state.faults.delay_response()  # the ``late`` fault: the operation exists, its answer comes late
    return JSONResponse({"name": operation_name(job)})


def _not_found(what: str) -> SimError:
    return SimError(404, f"{what} was not found.", code="NOT_FOUND")


async def get_operation(request: Request) -> Response:
    caller = await guard(request, "veo_retrieve")
    state = sim_of(request)
    model, op = request.path_params["model"], request.path_params["operation"]
    job = state.jobs.get(op)
    if job is None or job.deleted or job.owner != caller.key or job.provider != state.profile.provider:
        raise _not_found(f"Operation models/{model}/operations/{op}")
    if job.model != model:
        raise _not_found(f"Operation models/{model}/operations/{op}")
    return JSONResponse(operation_json(request, job, state.now()))


def _file(request: Request, file_id: str, owner: str | None) -> tuple[Job, int]:
    state = sim_of(request)
    found = state.variants.get(file_id)
    job = state.jobs.get(found[0]) if found else None
    if found is None or job is None or (owner is not None and job.owner != owner):
        raise _not_found(f"File files/{file_id}")
    if not job.content_ready(state.now()):
        raise _not_found(f"File files/{file_id}")
    return job, found[1]


def _signature(file_id: str, expires: int) -> str:
    return hmac.new(_SECRET, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


async def download(request: Request) -> Response:
    """The file URI: with the key, a redirect to a signed storage URL."""
    caller = await guard(request, "veo_content")
    file_id = request.path_params["file_id"]
    _file(request, file_id, caller.key)
    expires = int(time.time() + STORAGE_TTL_S)
    signed = f"expires={expires}&signature={_signature(file_id, expires)}"
    url = f"{str(request.base_url).rstrip('/')}{STORAGE}/{file_id}?{signed}"
    return RedirectResponse(url, status_code=302)


def _storage_error(status: int, code: str, message: str) -> Response:
    xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(xml, status_code=status, media_type="application/xml")


async def storage(request: Request) -> Response:
    """A signed storage URL: no key wanted (one sent is refused), the signature and its expiry checked."""
    state = sim_of(request)
    state.count("veo_storage")
    if "x-goog-api-key" in request.headers or "key" in request.query_params:
        state.count("veo_storage_key_sent")
        return _storage_error(400, "KeyNotAccepted", "A signed URL takes no API key.")
    file_id = request.path_params["file_id"]
    expires = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    if not expires.isdigit() or not hmac.compare_digest(signature, _signature(file_id, int(expires))):
        return _storage_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    if int(expires) < time.time():
        return _storage_error(400, "ExpiredToken", "Invalid argument. The provided token has expired.")
    try:
        job, index = _file(request, file_id, None)
    except SimError:
        return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, "video", index, width=job.width, height=job.height)
    return file_response(request, path, media_type)


def model_json(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": model.split("-")[1],
        "displayName": MODEL_NAMES.get(model, model),
        "description": f"{MODEL_NAMES.get(model, model)}: video generation with Veo.",
        "inputTokenLimit": 1024,
        "outputTokenLimit": 1,
        "supportedGenerationMethods": ["predictLongRunning"],
    }


TEXT_MODEL = {
    "name": "models/gemini-2.5-flash",
    "version": "001",
    "displayName": "Gemini 2.5 Flash",
    "description": "Stable version of Gemini 2.5 Flash.",
    "inputTokenLimit": 1048576,
    "outputTokenLimit": 65536,
    "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
}


async def list_models(request: Request) -> Response:
    await guard(request, "veo_models")
    models = [TEXT_MODEL, *(model_json(m) for m in sim_of(request).profile.caps.models)]
    return JSONResponse({"models": models})


async def get_model(request: Request) -> Response:
    await guard(request, "veo_models")
    model = request.path_params["model"]
    if model not in sim_of(request).profile.caps.models:
        raise unknown_model(model)
    return JSONResponse(model_json(model))


ROUTES = [
    Route(BASE + "/models/{model}:predictLongRunning", create, methods=["POST"]),
    Route(BASE + "/models/{model}/operations/{operation}", get_operation, methods=["GET"]),
    Route(BASE + "/files/{file_id}:download", download, methods=["GET"]),
    Route(BASE + "/models", list_models, methods=["GET"]),
    Route(BASE + "/models/{model}", get_model, methods=["GET"]),
    Route(STORAGE + "/{file_id}", storage, methods=["GET"]),
]
