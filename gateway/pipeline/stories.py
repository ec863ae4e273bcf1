"""Stories: several scenes, one film (``/v1/gateway/stories``), plus one video per scene.

A story is an ordinary job of kind ``story`` whose **segments are its scenes**, so the job driver, the
continuity frames and the stitcher do the work they already do for a long video:

- **extend** (an upstream with extensions, when the first scene is a clip length and every later one an
  extension length, e.g. 4 + 8 + 4 on ``openai-2026-03``): the first scene is created and each next
  scene extends the previous upstream video with its own prompt; the last video holds the whole film.
- **chain** (otherwise, and on ``openai-2025-10`` and Azure Sora 1): one create per scene (a scene
  longer than the longest clip is split into equal parts), each after the first carrying a
  scene-continuity clause and, where the upstream takes files, the previous scene's **last frame as
  ``input_reference``**; a scene whose length is no clip length is generated at the next one and its
  part trimmed back (``part_seconds``), so the film measures exactly the sum of the scenes.

The scene videos (``scenes`` on the story) are records of kind ``scene`` made with the story and
never driven (``passive``): while the story runs a read shows each its part's status and progress
(:meth:`StoryService.view`, nothing stored); when it completes, this module
(a job-event listener) cuts each scene out of the film into its own video and completes it (no
upstream call, no charge); when it fails, they fail with its error. Deleting the story deletes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from gateway.content import ContentRedirect, ContentStore, StoredFile
from gateway.core.capabilities import Capabilities
from gateway.core.ids import new_video_id
from gateway.core.models import Job, Segment, SegStatus, Status, VideoRequest
from gateway.core.plan import Plan, PlanOptions, plan_request
from gateway.core.translate import compose_prompt, continuation_clause, round_up, split_seconds
from gateway.errors import invalid
from gateway.observability import log
from gateway.pipeline.planning import record
from gateway.pipeline.service import VideoService
from gateway.pipeline.stages import Admission, Created
from gateway.pipeline.story_orphans import Refund, clean_orphans, scenes_pending
from gateway.policies.model import Tenant
from gateway.quota.refusals import request_limit
from gateway.store.base import PASSIVE, JobStore, StoreError

PREVIEWS = ("thumbnail", "spritesheet")

SCENE_IDS = "scene_ids"  # story.requested: the scene videos' ids, in order
STORY_OF = "story_of"  # scene.requested: the story's id
PART_SECONDS = "part_seconds"  # story.requested: seconds each segment keeps in the film


@dataclass
class Scene:
    prompt: str
    seconds: int


def scene_clause(index: int, count: int) -> str:
    return (
        f"Scene {index} of {count}, continuing the previous scene: the same characters, setting and visual "
        "style; the action moves on as described."
    )


def story_segments(
    scenes: list[Scene], prompts: list[str], caps: Capabilities
) -> tuple[list[Segment], str, list[int], list[int]]:
    """(segments, strategy, seconds each segment keeps, the scene of each segment)."""
    extend = (
        caps.has("extensions")
        and scenes[0].seconds in caps.clip_seconds
        and all(s.seconds in caps.extension_seconds for s in scenes[1:])
    )
    segments: list[Segment] = []
    keeps: list[int] = []
    owners: list[int] = []
    if extend:
        for i, (scene, prompt) in enumerate(zip(scenes, prompts, strict=True)):
            segments.append(Segment(index=i, seconds=scene.seconds, prompt=prompt, kind="extend" if i else "create"))
            keeps.append(scene.seconds)
            owners.append(i)
        return segments, "extend", keeps, owners
    clips = caps.clip_seconds
    for i, (scene, prompt) in enumerate(zip(scenes, prompts, strict=True)):
        single = round_up(scene.seconds, clips)
        lengths = [single] if single is not None else split_seconds(scene.seconds, clips, clips)
        left = scene.seconds
        for part, length in enumerate(lengths):
            text = prompt if part == 0 else compose_prompt(prompt, continuation_clause(part + 1, len(lengths)))
            segments.append(Segment(index=len(segments), seconds=length, prompt=text))
            keeps.append(min(length, left))
            owners.append(i)
            left -= keeps[-1]
    return segments, "chain", keeps, owners


def story_plan(scenes: list[Scene], plans: list[Plan], caps: Capabilities) -> tuple[Plan, list[int]]:
    """The story's plan from each scene's own plan (prompt clauses, model, size): (plan, scene of each segment)."""
    first = plans[0]
    total = sum(s.seconds for s in scenes)
    prompts = [
        p.segments[0].prompt if i == 0 else compose_prompt(p.segments[0].prompt, scene_clause(i + 1, len(scenes)))
        for i, p in enumerate(plans)
    ]
    # the clip lengths of the model and size the scenes are made at (not every model's of the profile)
    made = first.extras.get("upstream_size", first.size)
    caps = replace(caps, clip_seconds=caps.clips(first.upstream_model, made))
    segments, strategy, keeps, owners = story_segments(scenes, prompts, caps)
    # the delivery format, native fields and the size made come from the scene plans; trim and continuity are
    # the story's own
    kept = ("output_format", "native", "upstream_size", "scale_to")
    extras: dict[str, Any] = {k: v for k, v in first.extras.items() if k in kept}
    if strategy == "chain" and "file" in caps.reference_kinds:
        extras["continuity"] = "last_frame"
    if keeps != [s.seconds for s in segments]:
        extras[PART_SECONDS] = keeps
        extras["trim_seconds"] = total
    adapted = [a for a in first.adapted if not a.startswith("seconds=")]
    asked = "+".join(str(s.seconds) for s in scenes)
    made = "+".join(str(s.seconds) for s in segments)
    how = ("extended" if strategy == "extend" else "stitched") + (",trimmed" if PART_SECONDS in extras else "")
    adapted.append(f"scenes={asked}->{made}({how})")
    plan = Plan(
        model=first.model,
        upstream_model=first.upstream_model,
        size=first.size,
        seconds=total,
        segments=segments,
        adapted=adapted,
        price_per_second=first.price_per_second,
        strategy=strategy,
        extras=extras,
    )
    return plan, owners


class StoryService:
    """Creates stories through the video service; completes their scene videos (a job-event listener)."""

    def __init__(
        self,
        videos: VideoService,
        store: JobStore,
        content: ContentStore,
        *,
        max_seconds: int,
        lease_ttl_s: float = 30.0,
    ) -> None:
        self.videos = videos
        self.store = store
        self.content = content
        self.max_seconds = max_seconds
        self.lease_ttl_s = lease_ttl_s  # a dead request's scene records are cleaned this long after its last beat
        self.refund_unstored: Refund | None = None  # (tenant, story id): the quota's refund of a story never stored

    async def clean_orphans(self) -> int:
        """Delete the scene records of stories whose request died before storing them (:mod:`story_orphans`)."""
        return await clean_orphans(self.store, self.lease_ttl_s, self.refund_unstored)

    def check(self, tenant: Tenant, scenes: list[Scene]) -> int:
        if not scenes:
            raise invalid("Invalid 'scenes': a story needs at least one scene.", "scenes")
        total = sum(s.seconds for s in scenes)
        most = tenant.quotas.max_seconds_per_request
        if most is not None and total > most:
            raise request_limit(
                tenant.name,
                "max_seconds_per_request",
                f"Invalid 'scenes': {total} seconds in total exceeds this team's max_seconds_per_request of {most:g}.",
                "scenes",
            )
        if total > self.max_seconds:
            raise invalid(
                f"Invalid 'scenes': {total} seconds in total exceeds the maximum of {self.max_seconds}.", "scenes"
            )
        return total

    async def create(self, tenant: Tenant, scenes: list[Scene], base: VideoRequest) -> Created:
        total = self.check(tenant, scenes)
        route = self.videos.upstream.pick()  # the first upstream that is up: planned for it, sent to it
        caps = route.caps
        options = getattr(self.videos.planner, "options", None) or PlanOptions()
        # each scene planned on its own (not counted): the model, size, style and avoid clauses, the checks
        plans = [
            plan_request(
                VideoRequest(
                    prompt=scene.prompt,
                    model=base.model,
                    size=base.size,
                    seconds=str(round_up(scene.seconds, caps.clip_seconds) or max(caps.clip_seconds)),
                    style_preset=base.style_preset,
                    negative_prompt=base.negative_prompt,
                    output_format=base.output_format,
                    dialect=base.dialect,
                ),
                caps,
                options,
                allowed_models=tenant.models,
            )
            for scene in scenes
        ]
        plan, owners = story_plan(scenes, plans, caps)
        record(plan)
        story_prompt = "\n".join(f"Scene {i + 1}: {s.prompt.strip()}" for i, s in enumerate(scenes))
        req = VideoRequest(
            prompt=story_prompt,
            model=base.model,
            size=base.size,
            seconds=str(total),
            style_preset=base.style_preset,
            negative_prompt=base.negative_prompt,
            output_format=base.output_format,
            callback_url=base.callback_url,  # the film's video.completed / video.failed (the webhook stage checks it)
            enhance_prompt=base.enhance_prompt,  # each scene's prompt (the enhance stage)
        )
        job = self.videos.new_job(tenant, req, plan, "story", route)
        scene_ids = [new_video_id() for _ in scenes]
        job.requested[SCENE_IDS] = scene_ids
        job.requested["scenes"] = [{"prompt": s.prompt, "seconds": s.seconds} for s in scenes]
        job.requested["scene_of_segment"] = owners
        # the scene records before the story (and so before any upstream call): killed during its first create,
        # the story goes on after a restart and every id in its ``scenes`` resolves
        # (listed until the story is stored: killed before that, its scenes are cleaned, :mod:`story_orphans`)
        async with scenes_pending(self.store, tenant.name, job.id, scene_ids, self.lease_ttl_s):
            for i, (scene, scene_id) in enumerate(zip(scenes, scene_ids, strict=True)):
                await self.store.put(self._scene_job(job, scene_id, i, scene))  # the store down: refused, none made
            try:
                created = await self.videos.admit(Admission(tenant, req, plan, job, caps, fresh=True))
            except BaseException:  # refused (or failed before the story was stored): no scene of it is kept
                await asyncio.shield(self._drop_scenes(job.id, scene_ids))
                raise
        log.info("story_accepted", video_id=job.id, tenant=tenant.name, scenes=len(scenes), strategy=plan.strategy)
        return created

    async def _drop_scenes(self, story_id: str, scene_ids: list[str]) -> None:
        with contextlib.suppress(StoreError):
            if await self.store.get(story_id) is not None:
                return  # stored after all (the request was cancelled after the launch): its scenes stay
        for scene_id in scene_ids:
            with contextlib.suppress(StoreError):
                await self.store.delete(scene_id)

    @staticmethod
    def _scene_job(story: Job, scene_id: str, index: int, scene: Scene) -> Job:
        return Job(
            id=scene_id,
            tenant=story.tenant,
            model=story.model,
            prompt=scene.prompt,
            size=story.size,
            seconds=str(scene.seconds),
            kind="scene",
            upstream=story.upstream,
            route=story.route,
            created_at=story.created_at,
            requested={STORY_OF: story.id, "scene_index": index, PASSIVE: True},
        )

    # -- reads -----------------------------------------------------------------
    async def view(self, job: Job) -> Job:
        """A running scene as a client sees it: the progress of its part of the story (never stored)."""
        if job.kind != "scene" or job.terminal or not job.requested.get(STORY_OF):
            return job
        story = await self.store.get(str(job.requested[STORY_OF]))
        owners = story.requested.get("scene_of_segment") if story is not None else None
        if story is None or story.terminal or not isinstance(owners, list):
            return job  # its outcome is written by the story's listener
        mine = [
            seg for seg, owner in zip(story.segments, owners, strict=False) if owner == job.requested.get("scene_index")
        ]
        if not mine:
            return job
        shown = copy.copy(job)
        total = sum(seg.seconds for seg in mine) or 1
        shown.progress = min(int(sum(seg.seconds * seg.progress for seg in mine) / total), 99)
        started = any(seg.status not in (SegStatus.PENDING, SegStatus.SUBMITTING, SegStatus.QUEUED) for seg in mine)
        shown.status = Status.IN_PROGRESS if started else Status.QUEUED
        shown.poll_after_ms = story.poll_after_ms
        return shown

    # -- job events ------------------------------------------------------------
    async def job_finished(self, job: Job) -> None:
        if job.kind != "story" or not job.requested.get(SCENE_IDS):
            return
        scenes = [Scene(**s) for s in job.requested.get("scenes") or []]
        pending = [await self.store.get(scene_id) for scene_id in job.requested[SCENE_IDS]]
        if not any(child is not None and not child.terminal for child in pending):
            return  # done already (a retried listener), or every scene was deleted
        film = await self._local_film(job) if job.status == Status.COMPLETED else None
        try:
            start = 0.0
            for index, (child, scene) in enumerate(zip(pending, scenes, strict=False)):
                if child is not None and not child.terminal:
                    await self._finish_scene(job, film, child, start, scene.seconds, index)
                start += scene.seconds
        finally:
            if film is not None and film.parent == self.content.scratch(job.id):
                film.unlink(missing_ok=True)  # a copy fetched from the bucket

    async def listeners_abandoned(self, job: Job) -> None:
        """The driver gave up on ``job``'s listeners: a story's unfinished scenes fail rather than wait for ever."""
        if job.kind != "story":
            return
        now = int(time.time())
        for scene_id in job.requested.get(SCENE_IDS) or []:
            child = await self.store.get(scene_id)
            if child is None or child.terminal:
                continue
            child.status, child.completed_at, child.updated_at = Status.FAILED, now, time.time()
            if job.status == Status.COMPLETED:
                child.error = {
                    "code": "scene_unavailable",
                    "message": f"The story's film was made ({job.id}) but this scene could not be cut from it.",
                }
            else:
                child.error = dict(job.error or {"code": "story_failed", "message": "The story failed."})
            await self.store.update(child)
            log.warning("story_scene_abandoned", video_id=child.id, story=job.id)

    async def _local_film(self, story: Job) -> Path | None:
        """The finished film as a local file: the retained one (``file://``) or a copy fetched into scratch."""
        stored = await self.content.find(story.id, "video")
        if stored is None:
            return None  # evicted already: the scenes fail with content_expired
        if isinstance(stored, StoredFile):
            return stored.path
        served = await self.content.serve(stored, None)
        if served is None:
            return None
        out = self.content.scratch(story.id) / "film.mp4"
        with open(out, "wb") as fh:
            if isinstance(served, ContentRedirect):  # presigned downloads: fetch the URL the store signed
                async with httpx.AsyncClient(timeout=60) as client, client.stream("GET", served.url) as response:
                    response.raise_for_status()
                    async for chunk in response.aiter_bytes():
                        await asyncio.to_thread(fh.write, chunk)
            else:
                try:
                    async for chunk in served.chunks:
                        await asyncio.to_thread(fh.write, chunk)
                finally:
                    await served.close()
        return out

    async def _finish_scene(
        self, story: Job, film: Path | None, child: Job, start: float, seconds: int, index: int
    ) -> None:
        now = int(time.time())
        if story.status == Status.COMPLETED and film is not None:
            from gateway.media.cut import cut_file

            out = self.content.scratch(child.id) / "scene.mp4"
            await cut_file(film, out, start, seconds)
            child.content = await self._scene_previews(child, out)  # the scene's own, before the cut is adopted
            child.content["video"] = (await self.content.adopt(child.id, "video", out)).ref
            child.status, child.progress, child.error = Status.COMPLETED, 100, None
            child.completed_at, child.expires_at = now, story.expires_at
        elif story.status == Status.COMPLETED:
            child.status, child.completed_at = Status.FAILED, now
            child.error = {"code": "content_expired", "message": "The story's film was no longer retained."}
        else:
            child.status, child.completed_at = Status.FAILED, now
            child.error = dict(story.error or {"code": "story_failed", "message": "The story failed."})
        child.updated_at = time.time()
        if not await self.store.update(child):  # deleted meanwhile: its files go too
            await self.content.remove(child.id)
        log.info("story_scene_finished", video_id=child.id, story=story.id, scene=index, status=str(child.status))

    async def _scene_previews(self, child: Job, scene: Path) -> dict[str, str]:
        """A scene's thumbnail and spritesheet, made from its cut (``""``: a variant that could not be made)."""
        from gateway.media.previews import derive_previews

        made = await derive_previews(scene, self.content.scratch(child.id), PREVIEWS, child.id)
        return {v: (await self.content.adopt(child.id, v, Path(p))).ref if p else "" for v, p in made.items()}

    async def job_deleted(self, job: Job) -> None:
        for scene_id in job.requested.get(SCENE_IDS) or []:
            with contextlib.suppress(Exception):
                await self.store.delete(scene_id)
                await self.content.remove(scene_id)
