"""The simulated DashScope task API: create (``POST /api/v1/services/aigc/video-generation/video-synthesis``),
query (``GET /api/v1/tasks/{task_id}``), list (``GET /api/v1/tasks/``) and cancel (``POST .../{task_id}/cancel``).

A create answers ``{"output": {"task_status": "PENDING", "task_id"}, "request_id"}``; no idempotency key is
honoured (DashScope has none). A task walks PENDING -> RUNNING -> SUCCEEDED | FAILED on the engine's clock;
CANCELED only by a cancel while PENDING. A query is always HTTP 200: a failed task carries ``output.code`` /
``output.message``; an unknown task, another key's, or one ended more than 24 h (x ``--time-scale``) ago answers
``task_status: UNKNOWN``. Times are ``YYYY-MM-DD HH:MM:SS.mmm`` in UTC+8; the list's are epoch milliseconds.

Limits and refusals, the DashScope way: ``--rpm`` and the ``429`` fault are 429 ``Throttling.RateQuota``;
``--max-concurrent N`` keeps a key's tasks of one model beyond N running in PENDING until a slot frees (never a
429). Moderation: the first ``--moderation-words`` word in a prompt is refused at create (400
``DataInspectionFailed``, "Input data may contain inappropriate content."); any other word fails the task while
RUNNING ("Output data may contain inappropriate content."). The ``fail`` fault fails a task while RUNNING with
``InternalError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.media.render import Segment
from gateway.providers.dashscope_wan.sim_fields import Ask, check_create, invalid
from gateway.providers.dashscope_wan.sim_oss import DAY_S, oss_video, signed_url
from gateway.simulator.bodies import read_body
from gateway.simulator.fields import flagged
from gateway.simulator.generate import scripted_failure
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, QUEUED, RUNNING, Failure, Job, durations
from gateway.simulator.state import SimState

CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
INPUT_SAFETY = "Input data may contain inappropriate content."
OUTPUT_SAFETY: Failure = ("DataInspectionFailed", "Output data may contain inappropriate content.")
INTERNAL: Failure = (
    "InternalError",
    "An internal error has occured, please try again later or contact service support.",
)
CANCELED: Failure = ("Canceled", "The task was canceled.")
CANNOT_CANCEL = "Failed to cancel the task, please confirm if the task is in PENDING status."
EARLY_FAILURE_AT = 0.4  # of the PENDING time
STATUS = {QUEUED: "PENDING", RUNNING: "RUNNING", DONE: "SUCCEEDED", FAILED: "FAILED"}
LIST_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
BEIJING = timedelta(hours=8)


@dataclass
class WanJob(Job):
    tier: str = ""
    request_id: str = ""
    prompt_extend: bool = True
    waited_s: float = 0.0  # PENDING beyond the usual queue: over the concurrency limit
    cancelled: bool = False


def task_status(job: Job, now: float) -> str:
    phase = job.phase(now)
    return "CANCELED" if phase == FAILED and getattr(job, "cancelled", False) else STATUS[phase]


def _ends(job: Job) -> float:
    end = job.queue_s + job.run_s
    return job.created + (min(end, job.fail_after) if job.fail_after is not None else end)


def slot_start(jobs: Iterable[Job], now: float, limit: int) -> float:
    """When a task asked now may start running with ``limit`` at a time (first come, first served)."""
    if limit <= 0:
        return now
    spans = [(job.created + getattr(job, "waited_s", 0.0), _ends(job)) for job in jobs]
    spans = [(start, end) for start, end in spans if end > now]
    at = max([now, *(start for start, _ in spans)])
    ends = sorted(end for _, end in spans if end > at)
    return at if len(ends) < limit else ends[len(ends) - limit]


def _failure(state: SimState, ask: Ask, queue_s: float, run_s: float) -> tuple[Failure | None, float | None]:
    """(failure, seconds after the start of PENDING it happens)."""
    if ask.late_failure is not None:
        return ask.late_failure, EARLY_FAILURE_AT * queue_s
    return scripted_failure(state, ask.prompt, queue_s, run_s, OUTPUT_SAFETY, INTERNAL)


def new_task(state: SimState, owner: str, ask: Ask) -> WanJob:
    now, config, provider = state.now(), state.config, state.profile.provider
    mine = [j for j in state.jobs.values() if j.owner == owner and j.provider == provider and j.model == ask.model]
    waited = slot_start(mine, now, config.max_concurrent) - now
    queue_s, run_s = durations(ask.seconds, config.time_scale, ask.wire.slowdown)
    failure, fail_after = _failure(state, ask, queue_s, run_s)
    job = WanJob(
        id=str(uuid.uuid4()),
        owner=owner,
        provider=provider,
        kind="video-synthesis",
        model=ask.model,
        base_model=ask.model,
        prompt=ask.prompt,
        size=ask.size,
        segments=(Segment(ask.prompt, ask.seconds),),
        created=now,
        queue_s=waited + queue_s,
        run_s=run_s,
        ttl_s=config.ttl_seconds,
        fail_after=waited + fail_after if fail_after is not None else None,
        failure=failure,
        tier=ask.tier,
        request_id=str(uuid.uuid4()),
        prompt_extend=ask.prompt_extend,
        waited_s=waited,
    )
    state.add_job(job)
    return job


def clock(when: float) -> str:
    """DashScope's task time: ``2026-01-22 23:24:46.527``, UTC+8."""
    return (datetime.fromtimestamp(when, UTC) + BEIJING).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def gone(job: Job, now: float, time_scale: float) -> bool:
    """The task is no longer known: ended more than 24 h (scaled) ago, or expired by ``/_sim/expire``."""
    ended = job.finished(now)
    return (ended is not None and now >= ended + DAY_S * time_scale) or (
        job.expired_at is not None and now >= job.expired_at
    )


def _answer(output: dict[str, Any], **extra: Any) -> JSONResponse:
    return JSONResponse({"request_id": str(uuid.uuid4()), "output": output, **extra})


def task_json(request: Request, state: SimState, job: WanJob) -> JSONResponse:
    now = state.now()
    status = task_status(job, now)
    output: dict[str, Any] = {"task_id": job.id, "task_status": status, "submit_time": clock(job.created)}
    started, ended = job.created + job.queue_s, job.finished(now)
    if now >= started and (ended is None or ended >= started):  # it ran (not failed or canceled while PENDING)
        output["scheduled_time"] = clock(started)
    if ended is not None:
        output["end_time"] = clock(ended)
    if status == "FAILED" and job.failure:
        output.update(code=job.failure[0], message=job.failure[1])
    if status != "SUCCEEDED":
        return _answer(output)
    output["video_url"] = signed_url(str(request.base_url), job, now, state.config.time_scale)
    output["orig_prompt"] = job.prompt
    if job.prompt_extend:
        output["actual_prompt"] = f"{job.prompt} Cinematic lighting, smooth camera motion."
    usage = {"video_count": 1, "duration": job.seconds, "output_video_duration": job.seconds, "SR": int(job.tier[:-1])}
    return _answer(output, usage=usage)


async def create(request: Request) -> Response:
    caller = await guard(request, "wan_create", create_like=True)
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    ask = check_create(body.fields)
    if flagged(state.config.moderation_words[:1], ask.prompt):
        raise invalid(INPUT_SAFETY, "DataInspectionFailed")
    if ask.wire.image:
        state.count("wan_create_i2v")
    job = new_task(state, caller.key, ask)
    await state.faults.delay_response()
    return JSONResponse(
        {"output": {"task_status": "PENDING", "task_id": job.id}, "request_id": job.request_id}, headers=caller.headers
    )


def _owned(state: SimState, owner: str, task_id: str) -> WanJob | None:
    job = state.jobs.get(task_id)
    known = isinstance(job, WanJob) and job.owner == owner and job.provider == state.profile.provider
    return job if known and not gone(job, state.now(), state.config.time_scale) else None  # type: ignore[return-value]


async def get_task(request: Request) -> Response:
    caller = await guard(request, "wan_task")
    state = sim_of(request)
    task_id = str(request.path_params["task_id"])
    job = _owned(state, caller.key, task_id)
    if job is None:
        return _answer({"task_id": task_id, "task_status": "UNKNOWN"})
    return task_json(request, state, job)


async def cancel_task(request: Request) -> Response:
    caller = await guard(request, "wan_cancel")
    state = sim_of(request)
    job = _owned(state, caller.key, str(request.path_params["task_id"]))
    now = state.now()
    if job is None or task_status(job, now) != "PENDING":
        raise invalid(CANNOT_CANCEL, "UnsupportedOperation")
    job.cancelled, job.failure, job.fail_after = True, CANCELED, now - job.created
    return JSONResponse({"request_id": str(uuid.uuid4())})


def _stamp(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        return (datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=UTC) - BEIJING).timestamp()
    except ValueError:
        raise invalid(f"{name} must be YYYYMMDDhhmmss.") from None


def _number(raw: str | None, name: str, default: int, high: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= high:
        raise invalid(f"{name} must be an integer from 1 to {high}.")
    return int(raw)


async def list_tasks(request: Request) -> Response:
    caller = await guard(request, "wan_list")
    state = sim_of(request)
    query, now = request.query_params, state.now()
    end = _stamp(query.get("end_time"), "end_time") or now
    start = _stamp(query.get("start_time"), "start_time") or end - DAY_S
    if not 0 <= end - start <= DAY_S:
        raise invalid("The time window between start_time and end_time must be within 24 hours.")
    page, size = (
        _number(query.get("page_no"), "page_no", 1, 10_000),
        _number(query.get("page_size"), "page_size", 10, 100),
    )
    status = query.get("status")
    if status is not None and status not in LIST_STATUSES:
        raise invalid(f"status must be one of {', '.join(LIST_STATUSES)}.")
    jobs = [j for j in state.owned_jobs(caller.key) if isinstance(j, WanJob) and start <= j.created <= end]
    jobs = [j for j in jobs if query.get("model_name") in (None, j.model) and query.get("task_id") in (None, j.id)]
    jobs = [j for j in jobs if status in (None, task_status(j, now))]
    jobs.sort(key=lambda j: j.seq, reverse=True)
    chosen = jobs[(page - 1) * size : page * size]
    data = [
        {
            "api_key_id": str(abs(hash(caller.key)) % 10**6),
            "gmt_create": int(j.created * 1000),
            "model_name": j.model,
            "region": "ap-southeast-1",
            "request_id": j.request_id,
            "start_time": int((j.created + j.queue_s) * 1000),
            "status": task_status(j, now),
            "task_id": j.id,
            "user_api_unique_key": f"apikey:v1:aigc:video-generation:video-synthesis:{j.model}",
        }
        for j in chosen
    ]
    pages = -(-len(jobs) // size)
    body = {"total": len(jobs), "total_page": pages, "page_no": page, "page_size": size, "data": data}
    return JSONResponse({**body, "request_id": str(uuid.uuid4())})


ROUTES = [
    Route(CREATE_PATH, create, methods=["POST"]),
    Route("/api/v1/tasks", list_tasks, methods=["GET"]),
    Route("/api/v1/tasks/", list_tasks, methods=["GET"]),
    Route("/api/v1/tasks/{task_id}", get_task, methods=["GET"]),
    Route("/api/v1/tasks/{task_id}/cancel", cancel_task, methods=["POST"]),
    Route("/oss/dashscope-result/{task_id}.mp4", oss_video, methods=["GET"]),
]
