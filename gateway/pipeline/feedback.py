"""Feedback on finished videos and its summary: ratings 1-5, scores 1-10, a comment.

Framework-free: the face parses HTTP, this module validates (every refusal names its field), keeps
each rating as a document in the store (``feedback`` collection: memory, sqlite or redis), counts it
in the metrics and summarises: counts and means per model, style preset or team.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from prometheus_client import Histogram

from gateway.core.models import Job
from gateway.errors import ApiError, invalid
from gateway.observability import REGISTRY, P, log
from gateway.store.base import JobStore

COLLECTION = "feedback"
SCORES = ("visual_quality", "prompt_adherence", "consistency", "narrative")
FIELDS = ("rating", "scores", "comment")
GROUPS = ("model", "style_preset", "tenant")
MAX_COMMENT_CHARS = 4000

RATINGS = Histogram(
    P + "feedback_rating",
    "Feedback ratings (1-5) on finished videos; _sum/_count is the mean",
    ["tenant", "model"],
    registry=REGISTRY,
    buckets=(1, 2, 3, 4, 5),
)
SCORE_VALUES = Histogram(
    P + "feedback_score",
    "Feedback scores (1-10) by criterion; _sum/_count is the mean",
    ["tenant", "model", "score"],
    registry=REGISTRY,
    buckets=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
)


def _whole(value: Any, low: int, high: int, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"Invalid '{param}': expected an integer from {low} to {high}, got {value!r}.", param)
    return value


def parse(body: dict[str, Any]) -> tuple[int, dict[str, int], str | None]:
    """``(rating, scores, comment)`` from a request body; an OpenAI-shaped 400 naming the field otherwise."""
    for name in body:
        if name not in FIELDS:
            raise invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    if body.get("rating") is None:
        raise invalid("Missing required parameter: 'rating'.", "rating", "missing_required_parameter")
    rating = _whole(body["rating"], 1, 5, "rating")
    raw_scores = body.get("scores") or {}
    if not isinstance(raw_scores, dict):
        raise invalid(f"Invalid 'scores': expected an object with {', '.join(SCORES)}.", "scores", "invalid_type")
    scores: dict[str, int] = {}
    for name, value in raw_scores.items():
        if name not in SCORES:
            raise invalid(
                f"Unknown score 'scores.{name}'; known: {', '.join(SCORES)}.", f"scores.{name}", "unknown_parameter"
            )
        scores[name] = _whole(value, 1, 10, f"scores.{name}")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
        raise invalid(f"Invalid 'comment': expected a string of at most {MAX_COMMENT_CHARS} characters.", "comment")
    return rating, scores, comment


class FeedbackService:
    def __init__(self, store: JobStore) -> None:
        self.store = store

    async def record(self, job: Job, body: dict[str, Any]) -> dict[str, Any]:
        """Keep one rating of ``job`` (already checked to be the caller's); the ``video.feedback`` object."""
        rating, scores, comment = parse(body)
        if not job.terminal:
            raise ApiError(
                400,
                f"Video '{job.id}' is not finished (status: {job.status}).",
                param="video_id",
                code="video_not_ready",
            )
        item = {
            "id": "fb_" + uuid.uuid4().hex,
            "object": "video.feedback",
            "video_id": job.id,
            "tenant": job.tenant,
            "model": job.model,
            "style_preset": job.requested.get("style_preset"),
            "rating": rating,
            "scores": scores,
            "comment": comment,
            "created_at": int(time.time()),
        }
        await self.store.doc_put(COLLECTION, item["id"], json.dumps(item))
        RATINGS.labels(job.tenant, job.model).observe(rating)
        for name, value in scores.items():
            SCORE_VALUES.labels(job.tenant, job.model, name).observe(value)
        log.info("feedback_recorded", video_id=job.id, tenant=job.tenant, rating=rating)
        return item

    async def summary(self, group_by: str, tenant: str | None) -> dict[str, Any]:
        """Counts and means per group, over ``tenant``'s ratings (None: every team's)."""
        if group_by not in GROUPS:
            raise invalid(f"Invalid 'group_by': expected one of {', '.join(GROUPS)}.", "group_by")
        groups: dict[str, dict[str, Any]] = {}
        for _, raw in await self.store.doc_list(COLLECTION):
            item = json.loads(raw)
            if tenant is not None and item.get("tenant") != tenant:
                continue
            key = str(item.get(group_by) or "none")
            group = groups.setdefault(key, {"count": 0, "rating_sum": 0, "scores": {}})
            group["count"] += 1
            group["rating_sum"] += int(item["rating"])
            for name, value in (item.get("scores") or {}).items():
                total = group["scores"].setdefault(name, [0, 0])
                total[0] += 1
                total[1] += int(value)
        data = []
        for key in sorted(groups):
            g = groups[key]
            data.append(
                {
                    "group": key,
                    "count": g["count"],
                    "rating_mean": round(g["rating_sum"] / g["count"], 4),
                    "scores": {
                        name: {"count": n, "mean": round(total / n, 4)}
                        for name, (n, total) in sorted(g["scores"].items())
                    },
                }
            )
        return {"object": "video.feedback.summary", "group_by": group_by, "tenant": tenant, "data": data}
