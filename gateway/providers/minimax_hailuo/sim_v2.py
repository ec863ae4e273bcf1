"""The simulated MiniMax video API v2 (MiniMax-H3): create (``POST /v2/video_generation``) and query (``GET
/v2/query/video_generation/{task_id}``).

A create answers ``{"task_id"}``; the task walks queued -> running -> succeeded | failed on the engine's clock and
a succeeded one carries ``content.url``, a link to the file host signed for one hour (x ``--time-scale``) from the
query. Every refusal is a real HTTP status with ``{"type": "error", "error": {"type", "message": "... (code)",
"http_code"}, "request_id"}`` (the vendor's examples): 2013 -> 400, 1004 / 2049 -> 401, 1008 -> 402, 1026 -> 422,
1002 -> 429 (``--rpm`` and the ``429`` fault), 1000 -> 500. Body checks: ``model`` MiniMax-H3, one non-empty text
item, at most one ``image_url`` of each role first_frame / last_frame, ``resolution`` 768P or 2K, ``duration`` an
integer 4..15, ``ratio`` required (and not ``adaptive``) for text alone. Moderation: the first moderation word
refuses the create (1026), the others fail the task (``error.code`` 1027). Callbacks as v1's (the challenge first),
the body being the query's answer.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.providers.minimax_hailuo.sim_fields import Ask, image_aspect
from gateway.providers.minimax_hailuo.sim_tasks import V2_WORDS, HailuoJob, challenge, new_task, signed_url
from gateway.providers.minimax_hailuo.table import H3, V2_FRAMES, V2_RATIOS, WireModel
from gateway.simulator.bodies import read_body
from gateway.simulator.errors import SimError
from gateway.simulator.fields import flagged
from gateway.simulator.guard import Caller, guard, sim_of
from gateway.simulator.jobs import DONE, FAILED, Job

H3_WIRE = WireModel(True, {"768P": tuple(range(4, 16)), "2K": tuple(range(4, 16))}, {}, slowdown=1.5)
FIELDS = ("model", "content", "resolution", "duration", "ratio", "callback_url", "aigc_watermark")
# what the simulator renders for the ratios the gateway's table leaves out (sides divisible by 32)
OTHER_FRAMES = {
    "768P": {"1:1": "992x992", "4:3": "1152x864", "3:4": "864x1152", "21:9": "1536x640"},
    "2K": {"1:1": "1920x1920", "4:3": "2240x1680", "3:4": "1680x2240", "21:9": "3360x1440"},
}
HTTP = {2013: 400, 1004: 401, 2049: 401, 1008: 402, 1026: 422, 1002: 429, 1000: 500, 1001: 503}
ENGINE = {"rate_limit_exceeded": 1002, "concurrency_limit_exceeded": 1002, "server_error": 1000,
          "service_unavailable": 1001, "invalid_json": 2013}  # fmt: skip


def v2_error(code: int, message: str) -> SimError:
    """A v2 refusal (rendered by sim_profile.error_response as the v2 envelope)."""
    return SimError(HTTP.get(code, 400), f"{message} ({code})", code=f"v2:{code}")


def as_v2(error: SimError) -> SimError:
    raw = error.code or ""
    code = int(raw) if raw.isdigit() else ENGINE.get(raw)
    if code is None:
        return error if raw.startswith("v2:") else v2_error(1000 if error.status >= 500 else 2013, error.message)
    text = {1002: "rate limit, please retry later", 1000: "internal error"}.get(code, error.message)
    return v2_error(code, text)


async def v2_guard(request: Request, op: str, *, create_like: bool = False) -> Caller:
    try:
        return await guard(request, op, create_like=create_like)
    except SimError as exc:
        raise as_v2(exc) from None


def _content(items: Any) -> tuple[str, float | None]:
    """(prompt, the first frame's aspect or None) of a ``content`` array."""
    if not isinstance(items, list):
        raise v2_error(2013, "invalid params, content must be an array")
    texts = [i.get("text") for i in items if isinstance(i, dict) and i.get("type") == "text"]
    if len(texts) != 1 or not isinstance(texts[0], str) or not texts[0].strip():
        raise v2_error(2013, "invalid params, content must include a non-empty text item (prompt is required)")
    aspect, roles = None, []
    for item in (i for i in items if not (isinstance(i, dict) and i.get("type") == "text")):
        url = item.get("image_url", {}).get("url") if isinstance(item, dict) else None
        role = item.get("role") if isinstance(item, dict) else None
        if item.get("type") != "image_url" or role not in ("first_frame", "last_frame") or role in roles:  # type: ignore[union-attr]
            raise v2_error(2013, "invalid params, content items: image_url with role first_frame / last_frame")
        roles.append(role)
        try:
            found = image_aspect(url, f"content.{role}")
        except SimError as exc:
            raise v2_error(2013, exc.message) from None
        aspect = found if role == "first_frame" or aspect is None else aspect
    return texts[0], aspect


def _size(resolution: str, ratio: str | None, aspect: float | None) -> str:
    if aspect is not None:
        ratio = "9:16" if aspect < 0.95 else "1:1" if aspect < 1.05 else "16:9"
    frames = {**V2_FRAMES[resolution], **OTHER_FRAMES[resolution]}
    return frames[ratio or "16:9"]


def check_create_v2(body: dict[str, Any]) -> tuple[Ask, str]:
    """(the ask, its ratio) of a v2 create body, or MiniMax's refusal."""
    unknown = [key for key in body if key not in FIELDS]
    if unknown or body.get("model") != H3:
        raise v2_error(2013, f"invalid params, {unknown[0] if unknown else 'model'}")
    prompt, aspect = _content(body.get("content"))
    resolution = body.get("resolution", "768P")
    seconds = body.get("duration", 5)
    if (
        resolution not in V2_FRAMES
        or isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not 4 <= seconds <= 15
    ):
        raise v2_error(2013, "invalid params, resolution must be 768P or 2K and duration an integer in [4, 15]")
    ratio = body.get("ratio")
    if aspect is None and (ratio not in V2_RATIOS or ratio == "adaptive"):
        raise v2_error(2013, "invalid params, ratio is required for text to video and cannot be adaptive")
    if ratio is not None and ratio not in V2_RATIOS:
        raise v2_error(2013, "invalid params, ratio")
    callback = body.get("callback_url")
    if callback is not None and not (isinstance(callback, str) and callback.startswith(("http://", "https://"))):
        raise v2_error(2013, "invalid params, callback_url")
    size = _size(resolution, ratio if aspect is None else None, aspect)
    ask = Ask(H3, H3_WIRE, prompt, size, resolution, seconds, False, aspect is not None, callback)
    return ask, str(ratio or "adaptive")


def task_v2(base: str, job: Job, status: str, time_scale: float, now: float) -> dict[str, Any]:
    """The v2 query answer (and callback body) of ``job`` at ``status``."""
    task: dict[str, Any] = {
        "id": job.id, "model": job.model, "status": status, "created_at": int(job.created),
        "updated_at": int(job.finished(now) or now), "resolution": getattr(job, "resolution", ""),
        "duration": job.seconds, "ratio": getattr(job, "ratio", ""), "task_type": "video_generation",
    }  # fmt: skip
    if status == V2_WORDS[DONE]:
        task["content"] = {"url": signed_url(base, getattr(job, "file_id", ""), now, time_scale), "prompt": job.prompt}
        task["usage"] = {"output_seconds": job.seconds, "total_seconds": job.seconds}
    if status == V2_WORDS[FAILED] and job.failure:
        task["error"] = {"code": job.failure[0], "message": job.failure[1]}
    return {"task": task}


async def create_v2(request: Request) -> Response:
    caller = await v2_guard(request, "mm_create", create_like=True)
    state = sim_of(request)
    try:
        body = await read_body(request, allow_form=False)
    except SimError as exc:
        raise as_v2(exc) from None
    ask, ratio = check_create_v2(body.fields)
    if flagged(state.config.moderation_words[:1], ask.prompt):
        raise v2_error(1026, "video description contains sensitive content")
    state.count("mm_create_v2")
    if ask.image:
        state.count("mm_create_i2v")
    job = new_task(state, caller.key, ask, v2=True, ratio=ratio)
    if job.failure is not None and job.failure[0] == "1027":
        job.failure = ("1027", "output video contains sensitive content")
    if ask.callback_url:
        base, scale = str(request.base_url), state.config.time_scale
        state.callbacks.watch(job, ask.callback_url,
                              lambda task, phase: task_v2(base, task, V2_WORDS[phase], scale, state.now()),
                              handshake=challenge)  # fmt: skip
    await state.faults.delay_response()
    return JSONResponse({"task_id": job.id}, headers=caller.headers)


async def query_v2(request: Request) -> Response:
    caller = await v2_guard(request, "mm_query")
    state = sim_of(request)
    job = state.jobs.get(str(request.path_params["task_id"]))
    if not (isinstance(job, HailuoJob) and job.v2 and job.owner == caller.key):
        raise v2_error(2013, "invalid task_id")
    now = state.now()
    return JSONResponse(task_v2(str(request.base_url), job, V2_WORDS[job.phase(now)], state.config.time_scale, now))


def request_id() -> str:
    return secrets.token_hex(16)


ROUTES = [
    Route("/v2/video_generation", create_v2, methods=["POST"]),
    Route("/v2/query/video_generation/{task_id}", query_v2, methods=["GET"]),
]
