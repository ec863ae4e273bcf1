"""The simulated Kling task API: create, query one, query the list, and the result files on a "CDN".

``POST /v1/videos/{text2video|image2video}`` answers ``{"code": 0, "message": "SUCCEED", "request_id", "data":
{"task_id", "task_status": "submitted", "task_info", "created_at", "updated_at"}}`` (times in ms); a task moves
``submitted`` -> ``processing`` -> ``succeed`` | ``failed`` on the engine's clock. A moderation word in a
text2video prompt is refused at once (HTTP 400, code 1301); in an image2video prompt the task is accepted and
then fails with ``task_status_msg`` "Failure to pass the risk control system" (the image is judged with the
output). ``external_task_id`` is unique per account (a repeat: 400/1201, the simulator's choice: Kling does not
document it). ``GET /v1/videos/{action}/{id}`` takes a task id or an ``external_task_id``; ``GET
/v1/videos/{action}?pageNum=&pageSize=`` lists that action's tasks newest first (``?external_task_id=`` answers
the one task). A create's ``callback_url`` is POSTed the task, as a query shows it, at each status change
(unsigned). Results are served without auth at ``/kcdn/...`` in the pixel size of the shape until the
content TTL (scaled by ``--time-scale``) passes, then 404.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.kling.sim_auth import kling_refusal
from gateway.providers.kling.sim_fields import Ask, check_create
from gateway.providers.kling.table import MODEL_SLOWDOWN, UNIT_USD
from gateway.simulator.bodies import Body
from gateway.simulator.content import ContentStore, file_response
from gateway.simulator.fields import flagged
from gateway.simulator.generate import generation, start_job
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, QUEUED, Job
from gateway.simulator.state import SimState

ACTIONS = ("text2video", "image2video")
STATUS = {QUEUED: "submitted", "in_progress": "processing", DONE: "succeed", FAILED: "failed"}
RISK_FAILURE = ("risk_control", "Failure to pass the risk control system")
INTERNAL_FAILURE = ("internal", "Task failed, please try again later")
CDN = "/kcdn/bs2/upload-ylab-stunt"
TASK = "kling-task:"  # state.objects[TASK + job id] = its KlingTask
EXTERNAL = "kling-external:"  # state.objects[EXTERNAL + owner + ":" + external id] = job id


@dataclass(frozen=True)
class KlingTask:
    action: str
    external_task_id: str
    units: float  # what a succeeded task deducts


def job_status(job: Job, now: float) -> str:
    return STATUS[job.phase(now)]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _envelope(data: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}
    return JSONResponse(body, headers=headers)


def _task_of(state: SimState, job: Job) -> KlingTask:
    task: KlingTask = state.objects[TASK + job.id]
    return task


def task_json(state: SimState, job: Job, base_url: str, *, brief: bool = False) -> dict[str, Any]:
    """A task as a query shows it (``brief``: as the create answers it)."""
    now = state.now()
    task = _task_of(state, job)
    phase = job.phase(now)
    info = {"external_task_id": task.external_task_id} if task.external_task_id else {}
    updated = job.finished(now) or (job.created + job.queue_s if phase != QUEUED else job.created)
    data: dict[str, Any] = {"task_id": job.id, "task_status": STATUS[phase]}
    if brief:
        return {**data, "task_info": info, "created_at": _ms(job.created), "updated_at": _ms(job.created)}
    data["task_status_msg"] = job.failure[1] if phase == FAILED and job.failure else ""
    data["task_info"] = info
    if phase == DONE:
        video = {"id": job.variant_ids[0], "url": f"{base_url}{CDN}/{job.variant_ids[0]}/output.mp4"}
        data["task_result"] = {"videos": [{**video, "duration": f"{float(job.seconds):.1f}"}]}
    elif phase == FAILED:
        data["task_result"] = {}
    if phase in (DONE, FAILED):
        data["final_unit_deduction"] = f"{task.units:g}" if phase == DONE else "0"
    data["created_at"], data["updated_at"] = _ms(job.created), _ms(updated)
    return data


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _new_task_id() -> str:
    return str(10**17 + secrets.randbelow(9 * 10**17))  # ~18 digits, as Kling's


def _builder(action: str, base_url: str) -> Any:
    async def build(state: SimState, caller: Caller, body: Body) -> Job:
        ask, _ = check_create(body.fields, action, state.profile.caps)
        key = f"{EXTERNAL}{caller.key}:{ask.external_task_id}"
        if ask.external_task_id and key in state.objects:
            raise kling_refusal(400, 1201, "external_task_id already exists")
        moderated = flagged(state.config.moderation_words, ask.prompt)
        if moderated and action == "text2video":
            raise kling_refusal(400, 1301, "Content security policy triggered: the prompt is not allowed")
        job = _start(state, caller, ask, action, early=RISK_FAILURE if moderated else None)
        if ask.external_task_id:
            state.objects[key] = job.id
        callback = body.fields.get("callback_url")
        if isinstance(callback, str) and callback:  # Kling POSTs the task (as a query shows it) at each change
            state.callbacks.watch(job, callback, lambda task, phase: task_json(state, task, base_url))
        return job

    return build


def _start(state: SimState, caller: Caller, ask: Ask, action: str, early: tuple[str, str] | None) -> Job:
    shape = state.profile.caps.shape(ask.model, ask.size)
    price = shape.price if shape is not None and shape.price is not None else 0.0
    job = start_job(
        state,
        caller.key,
        job_id=_new_task_id(),
        kind=action,
        model=ask.model,
        base_model=ask.model,
        prompt=ask.prompt,
        size=ask.size,
        segments=[Segment(ask.prompt, ask.seconds)],
        gen_seconds=ask.seconds,
        fault_failure=INTERNAL_FAILURE,
        slowdown=MODEL_SLOWDOWN.get(ask.model, 1.0) * (1.5 if ask.mode == "pro" else 1.0),
        variant_ids=(str(uuid.uuid4()),),
        early_failure=early,
    )
    state.objects[TASK + job.id] = KlingTask(action, ask.external_task_id, round(price * ask.seconds / UNIT_USD, 2))
    return job


def _action(request: Request) -> str:
    action = str(request.path_params["action"])
    if action not in ACTIONS:
        raise state_unknown(request)
    return action


def state_unknown(request: Request) -> Exception:
    return sim_of(request).profile.unknown_route(request.method, request.url.path)


async def create_task(request: Request) -> Response:
    action = _action(request)
    caller = await guard(request, f"kling_{action}", create_like=True)
    base = _base_url(request)

    def respond(state: SimState, job: Job, headers: dict[str, str]) -> Response:
        return _envelope(task_json(state, job, base, brief=True))

    return await generation(request, f"kling_{action}", caller, _builder(action, base), respond, allow_form=False)


def _find(state: SimState, owner: str, action: str, ident: str) -> Job:
    job_id = ident if ident in state.jobs else state.objects.get(f"{EXTERNAL}{owner}:{ident}", "")
    job = state.jobs.get(job_id)
    if job is None or job.deleted or job.owner != owner or job.provider != state.profile.provider or job.kind != action:
        raise kling_refusal(404, 1203, "task not found")
    return job


async def get_task(request: Request) -> Response:
    action = _action(request)
    caller = await guard(request, "kling_query")
    state = sim_of(request)
    job = _find(state, caller.key, action, str(request.path_params["task_id"]))
    return _envelope(task_json(state, job, _base_url(request)))


def _page_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise kling_refusal(400, 1201, f"{name} must be an integer from 1 to {high}")
    return int(raw)


async def list_tasks(request: Request) -> Response:
    action = _action(request)
    caller = await guard(request, "kling_list")
    state = sim_of(request)
    base = _base_url(request)
    external = request.query_params.get("external_task_id")
    if external is not None:
        return _envelope(task_json(state, _find(state, caller.key, action, external), base))
    page = _page_param(request, "pageNum", 1, 1000)
    size = _page_param(request, "pageSize", 30, 500)
    jobs = sorted((j for j in state.owned_jobs(caller.key) if j.kind == action), key=lambda j: j.seq, reverse=True)
    chosen = jobs[(page - 1) * size : page * size]
    return _envelope([task_json(state, job, base) for job in chosen])


async def cdn_file(request: Request) -> Response:
    """A result file: no auth (a Kling token sent here is counted, never needed); 404 once cleared."""
    state = sim_of(request)
    state.count("kling_cdn")
    if request.headers.get("authorization"):
        state.count("kling_cdn_with_auth")
    found = state.variants.get(str(request.path_params["video_id"]))
    job = state.jobs.get(found[0]) if found else None
    if job is None or not job.content_ready(state.now()):
        return PlainTextResponse("Not Found", status_code=404)
    content: ContentStore = request.app.state.content
    path, media_type = await content.get(job, "video", width=job.width, height=job.height)
    return file_response(request, path, media_type)


ROUTES = [
    Route("/v1/videos/{action}", create_task, methods=["POST"]),
    Route("/v1/videos/{action}", list_tasks, methods=["GET"]),
    Route("/v1/videos/{action}/{task_id}", get_task, methods=["GET"]),
    Route(CDN + "/{video_id}/output.mp4", cdn_file, methods=["GET"]),
]
