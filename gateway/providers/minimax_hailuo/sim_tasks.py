"""The simulated MiniMax video API (v1): create (``POST /v1/video_generation``), query (``GET
/v1/query/video_generation?task_id=``), file retrieve (``GET /v1/files/retrieve?file_id=``), the files list, and
the file host.

A create answers ``{"task_id", "base_resp": {"status_code": 0, "status_msg": "success"}}``; ids are numeric strings
as MiniMax's are. A task walks Preparing -> Queueing -> Processing -> Success | Fail on the engine's clock; a
succeeded one names a numeric ``file_id`` and its ``video_width`` / ``video_height``; a failed one carries the
reason in ``base_resp``. An unknown task (or another key's) answers 2013 with no status. ``files/retrieve`` answers
``{"file": {file_id, bytes, created_at, filename, purpose, download_url}}``: a URL signed for one hour
(x ``--time-scale``) from the moment it is asked for, served by :func:`file_host` WITHOUT a key (a request carrying
``Authorization`` is refused 400 and counted ``mm_cdn_with_auth``; a passed or forged signature is 403).

Moderation: the first ``--moderation-words`` word in a prompt refuses the create (1026, nothing made); any other
fails the task while it runs (1027). The ``fail`` fault fails a task with 1000. A create naming ``callback_url``
is called back by the engine: first the challenge handshake (``{"challenge": ...}`` must come back within 3 s,
else nothing is sent), then ``{"task_id", "status", "file_id", "base_resp"}`` at each status change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.minimax_hailuo.sim_fields import Ask, check_create, invalid
from gateway.simulator.bodies import read_body
from gateway.simulator.fields import flagged
from gateway.simulator.generate import scripted_failure
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, QUEUED, RUNNING, Failure, Job, durations
from gateway.simulator.signed import refuse_key, stored_file, xml_error
from gateway.simulator.state import SimState

CREATE_PATH = "/v1/video_generation"
OK = {"status_code": 0, "status_msg": "success"}
INPUT_SAFETY = "input new_sensitive, the prompt may contain sensitive content"
OUTPUT_SAFETY: Failure = ("1027", "output video sensitive")
INTERNAL: Failure = ("1000", "unknown error")
URL_TTL_S = 3600.0
V2_WORDS = {QUEUED: "queued", RUNNING: "running", DONE: "succeeded", FAILED: "failed"}
PHASE_WORDS = {QUEUED: "Queueing", RUNNING: "Processing", DONE: "Success", FAILED: "Fail"}
_SECRET = secrets.token_bytes(32)  # per simulator process


@dataclass
class HailuoJob(Job):
    file_id: str = ""
    resolution: str = ""
    optimizer: bool = True
    v2: bool = False  # made by ``/v2/video_generation`` (MiniMax-H3)
    ratio: str = ""


def numeric_id() -> str:
    return str(secrets.randbelow(9 * 10**14) + 10**14)


def task_status(job: Job, now: float) -> str:
    phase = job.phase(now)
    if getattr(job, "v2", False):
        return V2_WORDS[phase]
    if phase == QUEUED:
        return "Queueing" if job.late(now, 0.3) else "Preparing"
    return {RUNNING: "Processing", DONE: "Success", FAILED: "Fail"}[phase]


def _failure(state: SimState, ask: Ask, queue_s: float, run_s: float) -> tuple[Failure | None, float | None]:
    return scripted_failure(state, ask.prompt, queue_s, run_s, OUTPUT_SAFETY, INTERNAL)


def new_task(state: SimState, owner: str, ask: Ask, **extra: object) -> HailuoJob:
    queue_s, run_s = durations(ask.seconds, state.config.time_scale, ask.wire.slowdown)
    failure, fail_after = _failure(state, ask, queue_s, run_s)
    job = HailuoJob(
        id=numeric_id(), owner=owner, provider=state.profile.provider, kind="video_generation", model=ask.model,
        base_model=ask.model, prompt=ask.prompt, size=ask.size, segments=(Segment(ask.prompt, ask.seconds),),
        created=state.now(), queue_s=queue_s, run_s=run_s, ttl_s=state.config.ttl_seconds, fail_after=fail_after,
        failure=failure, file_id=numeric_id(), resolution=ask.resolution, optimizer=ask.optimizer, **extra,
    )  # fmt: skip
    state.add_job(job)
    return job


def task_json(job: Job, status: str) -> dict[str, object]:
    """The query answer (and the callback body) of ``job`` at ``status``."""
    body: dict[str, object] = {"task_id": job.id, "status": status}
    if status == "Success":
        body.update(file_id=getattr(job, "file_id", ""), video_width=job.width, video_height=job.height)
    if status == "Fail" and job.failure:
        body["base_resp"] = {"status_code": int(job.failure[0]), "status_msg": job.failure[1]}
    else:
        body["base_resp"] = OK
    return body


async def challenge(client: httpx.AsyncClient, url: str) -> bool:
    """MiniMax's handshake: the callback URL must echo the challenge within 3 s."""
    token = secrets.token_hex(16)
    answer = await client.post(url, json={"challenge": token}, timeout=3.0)
    return answer.is_success and answer.json().get("challenge") == token


async def create(request: Request) -> Response:
    caller = await guard(request, "mm_create", create_like=True)
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    ask = check_create(body.fields)
    if flagged(state.config.moderation_words[:1], ask.prompt):
        raise invalid(INPUT_SAFETY, 1026)
    if ask.image:
        state.count("mm_create_i2v")
    job = new_task(state, caller.key, ask)
    if ask.callback_url:
        state.callbacks.watch(job, ask.callback_url, lambda task, phase: task_json(task, PHASE_WORDS[phase]),
                              handshake=challenge)  # fmt: skip
    await state.faults.delay_response()
    return JSONResponse({"task_id": job.id, "base_resp": OK}, headers=caller.headers)


def _owned(state: SimState, owner: str, task_id: str) -> HailuoJob | None:
    job = state.jobs.get(task_id)
    mine = isinstance(job, HailuoJob) and job.owner == owner and job.provider == state.profile.provider
    return job if mine else None  # type: ignore[return-value]


async def query(request: Request) -> Response:
    caller = await guard(request, "mm_query")
    state = sim_of(request)
    task_id = request.query_params.get("task_id", "")
    job = _owned(state, caller.key, task_id)
    if job is None:
        raise invalid("invalid params, task_id not found")
    return JSONResponse(task_json(job, task_status(job, state.now())))


def _sign(file_id: str, expires: int) -> str:
    return hmac.new(_SECRET, f"{file_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(base: str, file_id: str, now: float, time_scale: float) -> str:
    """The file host's URL of ``file_id``, valid one hour (x ``--time-scale``) from ``now``."""
    expires = int(now + URL_TTL_S * time_scale)
    return f"{base.rstrip('/')}/minimax-files/{file_id}.mp4?Expires={expires}&Signature={_sign(file_id, expires)}"


async def retrieve_file(request: Request) -> Response:
    caller = await guard(request, "mm_file")
    state = sim_of(request)
    file_id = request.query_params.get("file_id", "")
    now = state.now()
    found = [j for j in state.owned_jobs(caller.key) if isinstance(j, HailuoJob) and j.file_id == file_id]
    if not file_id.isdigit() or not found or not found[0].content_ready(now):
        raise invalid("invalid params, file_id not found" if file_id.isdigit() else "invalid params, file_id")
    url = signed_url(str(request.base_url), file_id, now, state.config.time_scale)
    job = found[0]
    meta = {"file_id": int(file_id), "bytes": 0, "created_at": int(job.created), "filename": "output.mp4",
            "purpose": "video_generation", "download_url": url}  # fmt: skip
    return JSONResponse({"file": meta, "base_resp": OK})


async def list_files(request: Request) -> Response:
    caller = await guard(request, "mm_files_list")
    state = sim_of(request)
    if request.query_params.get("purpose", "") not in ("video_generation", "voice_clone", "t2a_async"):
        raise invalid("invalid params, purpose")
    jobs = [j for j in state.owned_jobs(caller.key) if isinstance(j, HailuoJob) and j.content_ready(state.now())]
    files = [{"file_id": int(j.file_id), "filename": "output.mp4", "purpose": "video_generation"} for j in jobs]
    return JSONResponse({"files": files, "base_resp": OK})


async def file_host(request: Request) -> Response:
    refused = refuse_key(request, "mm_cdn", "Authorization header is not allowed with a signed URL.")
    if refused is not None:
        return refused
    state = sim_of(request)
    file_id = str(request.path_params["file_id"])
    raw = request.query_params.get("Expires", "")
    expires = int(raw) if raw.isascii() and raw.isdigit() else -1
    if expires < 0 or not hmac.compare_digest(request.query_params.get("Signature", ""), _sign(file_id, expires)):
        return xml_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    now = state.now()
    if now >= expires:
        return xml_error(403, "AccessDenied", "Request has expired.")
    job = next((j for j in state.jobs.values() if getattr(j, "file_id", None) == file_id), None)
    return await stored_file(request, job.id if job is not None else "")


ROUTES = [
    Route(CREATE_PATH, create, methods=["POST"]),
    Route("/v1/query/video_generation", query, methods=["GET"]),
    Route("/v1/files/retrieve", retrieve_file, methods=["GET"]),
    Route("/v1/files/list", list_files, methods=["GET"]),
    Route("/minimax-files/{file_id}.mp4", file_host, methods=["GET"]),
]
