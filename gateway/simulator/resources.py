"""JSON shapes of the simulated resources (OpenAI VideoResource, Azure jobs) and list pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request

from gateway.simulator.errors import SimError, invalid_value
from gateway.simulator.jobs import DONE, FAILED, Job
from gateway.simulator.state import SimState


def _ts(value: float | None) -> int | None:
    return int(value) if value is not None else None


def video_resource(job: Job, now: float) -> dict[str, Any]:
    """A ``VideoResource`` exactly as in the official spec."""
    status = job.phase(now)
    error = None
    if status == FAILED and job.failure:
        error = {"code": job.failure[0], "message": job.failure[1]}
    return {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": status,
        "progress": job.progress(now),
        "created_at": job.created_at,
        "completed_at": _ts(job.finished(now)),
        "expires_at": _ts(job.expires(now)),
        "prompt": job.prompt,
        "size": job.size,
        "seconds": str(job.seconds),
        "remixed_from_video_id": job.remixed_from,
        "error": error,
    }


def azure_job(job: Job, now: float) -> dict[str, Any]:
    """An Azure ``video.generation.job``; ``generations`` appear once it succeeded."""
    status = job.azure_status(now)
    finished = job.finished(now)
    generations = []
    if job.phase(now) == DONE:
        generations = [
            {
                "object": "video.generation",
                "id": gen_id,
                "job_id": job.id,
                "created_at": _ts(finished),
                "width": job.width,
                "height": job.height,
                "n_seconds": job.seconds,
                "prompt": job.prompt,
            }
            for gen_id in job.generation_ids
        ]
    return {
        "object": "video.generation.job",
        "id": job.id,
        "status": status,
        "created_at": job.created_at,
        "finished_at": _ts(finished),
        "expires_at": _ts(job.expires(now)),
        "generations": generations,
        "prompt": job.prompt,
        "model": job.model,
        "n_variants": job.n_variants,
        "n_seconds": job.seconds,
        "height": job.height,
        "width": job.width,
        "failure_reason": job.failure[0] if status == "failed" and job.failure else None,
    }


def list_page(
    request: Request, state: SimState, jobs: Sequence[Job], render: Callable[[Job, float], dict[str, Any]]
) -> dict[str, Any]:
    """``{"object": "list", "data", "first_id", "last_id", "has_more"}`` from ``limit``, ``order``, ``after``."""
    query = request.query_params
    raw_limit = query.get("limit", "20")
    if not raw_limit.isdigit() or not 0 <= int(raw_limit) <= 100:
        raise invalid_value("limit", raw_limit)
    limit = int(raw_limit)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_value("order", order, ("asc", "desc"))
    ordered = sorted(jobs, key=lambda j: j.seq, reverse=order == "desc")
    after = query.get("after")
    if after:
        anchor = state.jobs.get(after)
        if anchor is None:
            raise SimError(400, f"Invalid 'after': no object with id '{after}'.", param="after", code="invalid_value")
        ordered = [j for j in ordered if (j.seq < anchor.seq if order == "desc" else j.seq > anchor.seq)]
    page = ordered[:limit]
    now = state.now()
    return {
        "object": "list",
        "data": [render(job, now) for job in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": len(ordered) > len(page),
    }
