"""A job that never reached its upstream, planned again for another provider.

When a job's upstream turns its first create away for capacity (a 429: surely nothing was made) and
the next upstream that takes new jobs speaks another dialect, the job can only move there with a
plan made for that provider: its clip lengths, sizes, model map, native fields and prices. The
client's request is rebuilt from the job record (``Job.requested`` keeps the client's own fields), planned
with the gateway's planner for the new upstream's capabilities, and the job takes the new plan's
segments, model, cost and adaptation notes (plus ``upstream=A->B(...)`` saying why). The notes the
admission stages added (prompt enhancement) stay, and an enhanced prompt is planned as the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

from gateway.core.capabilities import Capabilities
from gateway.core.models import Job, Reference, VideoRequest
from gateway.core.plan import PLAN_EXTRAS, Plan
from gateway.errors import ApiError
from gateway.observability import log

Replan = Callable[[Job, Capabilities, str], bool]  # (job, the new upstream's capabilities, why) -> moved
STAGE_NOTES = ("prompt->enhanced",)  # notes of admission stages, not of the plan: kept across a new plan
DROPPED = ("submit_not_sent", "segment_references", "lost_polls")  # the old upstream's bookkeeping
_REQUEST_FIELDS = {f.name for f in fields(VideoRequest)} - {"prompt", "input_reference"}


def request_of(job: Job) -> VideoRequest:
    """The client's request, as admission read it (the enhanced prompt when it was enhanced)."""
    kept = {k: v for k, v in job.requested.items() if k in _REQUEST_FIELDS}
    if isinstance(kept.get("last_frame"), dict):
        kept["last_frame"] = Reference(**kept["last_frame"])
    if isinstance(kept.get("reference_images"), list):
        kept["reference_images"] = [Reference(**ref) for ref in kept["reference_images"]]
    return VideoRequest(
        prompt=str(job.requested.get("enhanced_prompt") or job.prompt),
        input_reference=job.requested_reference(),
        **kept,
    )


def replanner(planner: Callable[..., Plan]) -> Replan:
    """A :data:`Replan` over the gateway's planner."""

    def replan(job: Job, caps: Capabilities, why: str) -> bool:
        if job.kind != "create" or job.requested.get("story_of") or job.requested.get("scene_ids"):
            return False  # stories and derived videos are planned by their own rules: they stay
        try:
            plan = planner(request_of(job), caps, allowed_models=job.requested.get("allowed_models"))
        except ApiError as exc:
            log.info("job_replan_refused", video_id=job.id, profile=caps.profile, reason=exc.message[:200])
            return False
        previous = job.upstream
        for key in (*PLAN_EXTRAS, *DROPPED):
            job.requested.pop(key, None)
        job.requested.update(plan.extras)
        job.requested["upstream_model"] = plan.upstream_model
        stage_notes = [note for note in job.adapted if note.startswith(STAGE_NOTES)]
        job.adapted = [*plan.adapted, *stage_notes, f"upstream={previous}->{caps.profile}({why})"]
        job.segments = plan.segments
        job.model, job.size, job.seconds = plan.model, plan.size, str(plan.seconds)
        job.cost_usd = plan.cost_usd
        job.upstream = caps.profile
        return True

    return replan
