"""What a job page shows beside the job: a batch's variations side by side, a story's scenes in order.

A variation carries its mean feedback rating (so variations can be compared); a scene its own thumbnail;
a scene points back at its story, whose own video is the stitched film.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gateway.core.models import Job
from gateway.errors import ApiError
from gateway.store.base import JobStore

FEEDBACK = "feedback"  # pipeline/feedback.py's collection


async def ratings(store: JobStore, video_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Every rating of ``video_ids`` (one read of the feedback collection)."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not video_ids:
        return found
    for _, raw in await store.doc_list(FEEDBACK):
        item = json.loads(raw)
        if item.get("video_id") in video_ids:
            found.setdefault(item["video_id"], []).append(item)
    return found


async def related(ctx: Any, job: Job, row: Callable[[Job], dict[str, Any]], tenant: Any) -> dict[str, Any]:
    """``batch`` (variations with mean ratings), ``story`` (scenes in order) and ``story_id`` for a scene."""
    store: JobStore = ctx.store
    out: dict[str, Any] = {}
    batch_id = job.requested.get("batch_id")
    batches = getattr(ctx, "batches", None)
    if batch_id and batches is not None:
        try:
            batch, jobs = await batches.get(tenant, str(batch_id))
        except ApiError:  # expired: the variations are still videos of their own
            batch, jobs = None, []
        if batch is not None:
            rated = await ratings(store, {j.id for j in jobs if j is not None})
            variations = []
            for item, sibling in zip(batch.items, jobs, strict=True):
                if sibling is None:
                    variations.append({"id": item.get("video_id"), "status": "failed", "error": item.get("error")})
                    continue
                scores = [r["rating"] for r in rated.get(sibling.id, [])]
                entry = row(sibling)
                entry["rating_mean"] = round(sum(scores) / len(scores), 2) if scores else None
                entry["ratings"] = len(scores)
                variations.append(entry)
            out["batch"] = {"id": batch.id, "variations": variations}
    scene_ids = job.requested.get("scene_ids")
    if isinstance(scene_ids, list):
        scenes = []
        for index, scene_id in enumerate(scene_ids):
            scene = await store.get(str(scene_id))
            if scene is not None and scene.tenant == job.tenant:
                scenes.append({**row(await ctx.service.view(scene)), "scene": index + 1})
        out["story"] = {"id": job.id, "scenes": scenes}
    return out
