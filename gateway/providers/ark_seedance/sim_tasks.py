"""The simulated Ark content-generation tasks under ``/api/v3``: create, get, list, cancel/delete.

``POST /api/v3/contents/generations/tasks`` answers ``{"id": "cgt-YYYYmmddHHMMSS-xxxxx"}``; no idempotency key
is honoured (Ark has none). Tasks move ``queued`` -> ``running`` -> ``succeeded`` | ``failed`` on the engine's
clock; the GET answers the task object (the fields of docs.byteplus.com/en/docs/ModelArk/1521309); a
succeeded one has ``content.video_url`` (:mod:`.sim_storage`) and ``usage`` (tokens = w x h x (24 x seconds
+ 1) / 1024, which fits the vendor's example). A create with ``callback_url`` is watched by the engine's
callbacks: the task object is POSTed at each status change (queued, running, then the end), no signature.

Limits the Ark way: ``--rpm`` -> 429 ``ModelAccountRpmRateLimitExceeded``; ``--max-concurrent N`` (per key and
model) -> a task beyond N running ones is accepted and waits ``queued`` (Ark queues over-concurrency tasks);
more than 120 queued tasks per key -> 429 ``QuotaExceeded``. Moderation: the first ``--moderation-words`` word
in the text refuses the create 400 ``InputTextSensitiveContentDetected`` (nothing is made); another one lets the
task run and fails it ``OutputVideoSensitiveContentDetected``. The ``fail`` fault fails a running task
``InternalServiceError``. ``DELETE`` cancels a queued task (status ``cancelled``), deletes a finished one (then
404) and refuses a running or cancelled one (400; that status is unverified).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.ark_seedance.sim_fields import Create, Image, check_create, decoded_image, image_sides, invalid
from gateway.providers.ark_seedance.sim_storage import stored_video, video_url
from gateway.providers.ark_seedance.table import FPS, RATIOS, frames_of
from gateway.simulator.bodies import read_body
from gateway.simulator.content import ContentStore
from gateway.simulator.errors import SimError
from gateway.simulator.generate import scripted_failure
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, QUEUED, RUNNING, Failure, Job, durations
from gateway.simulator.state import SimState

BASE = "/api/v3"
TASKS = BASE + "/contents/generations/tasks"
ID_CHARS = string.ascii_lowercase + string.digits
QUEUE_CAP = 120  # queued tasks per account (older BytePlus page); QuotaExceeded beyond
INPUT_SAFETY = "The request failed because the input text may contain sensitive information."
OUTPUT_SAFETY: Failure = (
    "OutputVideoSensitiveContentDetected",
    "The request failed because the output video may contain sensitive information.",
)
INTERNAL: Failure = ("InternalServiceError", "The service encountered an unexpected internal error.")
CANCELLED: Failure = ("cancelled", "")
STATUS_FILTER = ("queued", "running", "cancelled", "succeeded", "failed")


@dataclass
class ArkJob(Job):
    ratio: str = "16:9"
    resolution: str = "720p"
    duration: int = 5
    seed: int = 0
    audio: bool | None = None  # generate_audio as echoed (None: the model has none)
    service_tier: str = "default"
    expires_after: int = 172800
    cancelled: bool = False
    waited_s: float = 0.0


def request_id(task: Job | None = None) -> str:
    """An Ark-like request id (``021743414619…``); a task's failure keeps one (the call that failed it)."""
    if task is not None:
        return f"02{int(task.created * 1000)}{hashlib.sha256(task.id.encode()).hexdigest()[:24]}"
    return f"02{int(datetime.now(UTC).timestamp() * 1000)}{secrets.token_hex(12)}"


def status_of(job: Job, phase: str) -> str:
    if phase == FAILED:
        return "cancelled" if getattr(job, "cancelled", False) else "failed"
    return {QUEUED: "queued", RUNNING: "running", DONE: "succeeded"}[phase]


def task_status(job: Job, now: float) -> str:
    return status_of(job, job.phase(now))


def _updated(job: Job, phase: str) -> int:
    """When the task last changed: its creation, its start, or its end."""
    if phase == QUEUED:
        return int(job.created)
    if phase == FAILED and job.fail_after is not None:
        return int(job.created + job.fail_after)
    return int(job.created + job.queue_s + (job.run_s if phase == DONE else 0.0))


def task_json(base: str, job: Job, phase: str) -> dict[str, Any]:
    """The task object at ``phase`` (the GET answer, a listing item, a callback body)."""
    status = status_of(job, phase)
    data: dict[str, Any] = {"id": job.id, "model": job.model, "status": status, "error": None}
    if status == "failed" and job.failure:
        data["error"] = {"code": job.failure[0], "message": f"{job.failure[1]} Request id: {request_id(job)}"}
    if status == "succeeded":
        data["content"] = {"video_url": video_url(base, job, job.created + job.queue_s + job.run_s)}
    if isinstance(job, ArkJob):
        data.update(seed=job.seed, resolution=job.resolution, ratio=job.ratio, duration=job.duration)
        data["framespersecond"] = FPS
        if job.audio is not None:
            data["generate_audio"] = job.audio
        if status == "succeeded":
            tokens = job.width * job.height * (FPS * job.duration + 1) // 1024
            data["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
        data.update(service_tier=job.service_tier, execution_expires_after=job.expires_after)
    data.update(created_at=int(job.created), updated_at=_updated(job, phase))
    return data


def slot_start(jobs: Iterable[Job], now: float, limit: int) -> float:
    """When a task asked now may start, with ``limit`` running at once (first come, first served)."""
    if limit <= 0:
        return now
    spans = [(j.created + getattr(j, "waited_s", 0.0), j.created + j.queue_s + j.run_s) for j in jobs]
    spans = [(start, end) for start, end in spans if end > now]
    at = max([now, *(start for start, _ in spans)])
    ends = sorted(end for _, end in spans if end > at)
    return at if len(ends) < limit else ends[len(ends) - limit]


def adaptive_ratio(images: list[Image]) -> str:
    """``adaptive``: the ratio nearest the first frame's aspect (16:9 without a readable image)."""
    first = next((i for i in images if i.role in (None, "first_frame")), None)
    data = decoded_image(first.url) if first is not None else None
    sides = image_sides(data) if data is not None else None
    if sides is None:
        return "16:9"
    aspect = sides[0] / sides[1]

    def gap(ratio: str) -> float:
        w, h = (int(n) for n in ratio.split(":"))
        return abs(math.log(w / h / aspect))

    return min(RATIOS, key=gap)


def _failure(state: SimState, prompt: str, queue_s: float, run_s: float) -> tuple[Failure | None, float | None]:
    return scripted_failure(state, prompt, queue_s, run_s, OUTPUT_SAFETY, INTERNAL)


def new_task(state: SimState, owner: str, ask: Create) -> ArkJob:
    now = state.now()
    provider = state.profile.provider
    mine = [j for j in state.jobs.values() if j.owner == owner and j.provider == provider and not j.deleted]
    if sum(1 for j in mine if j.phase(now) == QUEUED) >= QUEUE_CAP:
        message = "Your account has too many queued tasks. Please try again after some tasks finish."
        raise SimError(429, message, code="QuotaExceeded", type="TooManyRequests")
    ratio = adaptive_ratio(ask.images) if ask.ratio == "adaptive" else ask.ratio
    size = frames_of(ask.model, ratio, ask.resolution) or "1280x720"
    waited = slot_start([j for j in mine if j.model == ask.model], now, state.config.max_concurrent) - now
    queue_s, run_s = durations(ask.duration, state.config.time_scale, ask.wire.slowdown)
    failure, fail_after = _failure(state, ask.prompt, queue_s, run_s)
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    job = ArkJob(
        id=f"cgt-{stamp}-{''.join(secrets.choice(ID_CHARS) for _ in range(5))}",
        owner=owner,
        provider=provider,
        kind="i2v" if ask.images else "t2v",
        model=ask.model,
        base_model=ask.model,
        prompt=ask.prompt,
        size=size,
        segments=(Segment(ask.prompt or "a video", ask.duration),),
        created=now,
        queue_s=waited + queue_s,
        run_s=run_s,
        ttl_s=state.config.ttl_seconds,
        fail_after=waited + fail_after if fail_after is not None else None,
        failure=failure,
        ratio=ratio,
        resolution=ask.resolution,
        duration=ask.duration,
        seed=ask.seed,
        audio=ask.generate_audio if ask.wire.audio else None,
        service_tier=ask.service_tier,
        expires_after=ask.expires_after,
        waited_s=waited,
    )
    state.add_job(job)
    return job


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def create(request: Request) -> Response:
    caller = await guard(request, "ark_create", create_like=True)
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    ask = check_create(body.fields)
    words = state.config.moderation_words
    if words and words[0].lower() in ask.prompt.lower():
        raise SimError(400, INPUT_SAFETY, code="InputTextSensitiveContentDetected", type="BadRequest")
    job = new_task(state, caller.key, ask)
    if ask.callback_url:
        base = _base(request)
        state.callbacks.watch(job, ask.callback_url, lambda task, phase: task_json(base, task, phase))
    await state.faults.delay_response()  # the ``late`` fault: the task exists, its answer comes late
    return JSONResponse({"id": job.id})


def _task(state: SimState, task_id: str, owner: str) -> Job:
    job = state.jobs.get(task_id)
    if job is None or job.deleted or job.owner != owner or job.provider != state.profile.provider:
        raise SimError(404, f"The specified task {task_id} is not found.", code="ResourceNotFound", type="NotFound")
    return job


async def get_task(request: Request) -> Response:
    caller = await guard(request, "ark_get")
    state = sim_of(request)
    job = _task(state, request.path_params["task_id"], caller.key)
    return JSONResponse(task_json(_base(request), job, job.phase(state.now())))


def _page_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise invalid(name, f"{raw!r} is not an integer in [1, 500]")
    return int(raw)


async def list_tasks(request: Request) -> Response:
    caller = await guard(request, "ark_list", needs="list")
    state = sim_of(request)
    query = request.query_params
    page, size = _page_param(request, "page_num", 1), _page_param(request, "page_size", 10)
    wanted = query.get("filter.status")
    if wanted is not None and wanted not in STATUS_FILTER:
        raise invalid("filter.status", f"{wanted!r} is not one of {', '.join(STATUS_FILTER)}")
    tier = query.get("filter.service_tier")
    if tier is not None and tier not in ("default", "flex"):
        raise invalid("filter.service_tier", f"{tier!r} is not one of default, flex")
    ids = set(query.getlist("filter.task_ids"))
    model = query.get("filter.model")
    now = state.now()
    found = [
        job
        for job in sorted(state.owned_jobs(caller.key), key=lambda j: j.seq, reverse=True)
        if (wanted is None or task_status(job, now) == wanted)
        and (not ids or job.id in ids)
        and (model is None or job.model == model)
        and (tier is None or getattr(job, "service_tier", "default") == tier)
    ]
    items = [task_json(_base(request), job, job.phase(now)) for job in found[(page - 1) * size : page * size]]
    return JSONResponse({"total": len(found), "items": items})


async def delete_task(request: Request) -> Response:
    caller = await guard(request, "ark_delete")
    state = sim_of(request)
    job = _task(state, request.path_params["task_id"], caller.key)
    now = state.now()
    status = task_status(job, now)
    if status in ("running", "cancelled"):
        message = f"The task {job.id} cannot be cancelled or deleted while it is {status}."
        raise SimError(400, message, param="id", code="InvalidParameter", type="BadRequest")
    if status == "queued" and isinstance(job, ArkJob):
        job.cancelled, job.failure, job.fail_after = True, CANCELLED, now - job.created
    else:
        job.deleted = True
        content: ContentStore = request.app.state.content
        content.forget(job.id)
    return JSONResponse({})


ROUTES = [
    Route(TASKS, create, methods=["POST"]),
    Route(TASKS, list_tasks, methods=["GET"]),
    Route(TASKS + "/{task_id}", get_task, methods=["GET"]),
    Route(TASKS + "/{task_id}", delete_task, methods=["DELETE"]),
    Route("/ark-tos/{task_id}.mp4", stored_video, methods=["GET"]),
]
