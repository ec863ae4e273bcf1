"""Cursor pages of jobs: ``limit``, ``order`` and ``after`` in, ``{"object": "list", "data", "first_id",
"last_id", "has_more"}`` out: the list convention of the OpenAI family (the gateway's own face's too),
for any profile whose provider lists its jobs that way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request

from gateway.simulator.errors import SimError, invalid_value
from gateway.simulator.jobs import Job
from gateway.simulator.state import SimState


def list_page(
    request: Request, state: SimState, jobs: Sequence[Job], render: Callable[[Job, float], dict[str, Any]]
) -> dict[str, Any]:
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
