"""Plain typed records the whole gateway shares: requests, jobs, segments.

A :class:`Job` is what a client sees as one video. It is driven as a list of
:class:`Segment` s (one for an ordinary create; several when a long video is
split and stitched). Records serialise to plain dicts so every store can keep
them as JSON.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED})


class SegStatus(StrEnum):
    PENDING = "pending"  # not yet sent upstream
    SUBMITTING = "submitting"  # a create was sent; the upstream id is not known yet
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class Reference:
    """An ``input_reference``: an uploaded file (kept on disk) or an object (``image_url``/``file_id``)."""

    filename: str | None = None
    content_type: str | None = None
    path: str | None = None  # where the uploaded bytes are kept
    sha256: str | None = None
    image_url: str | None = None
    file_id: str | None = None


@dataclass
class VideoRequest:
    """What a client asked for, in any dialect, before translation."""

    prompt: str
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    input_reference: Reference | None = None
    style_preset: str | None = None
    negative_prompt: str | None = None
    output_format: str | None = None
    remix_of: str | None = None  # gateway id of the video being remixed
    extend_of: str | None = None  # gateway id of the video being extended
    edit_of: str | None = None
    dialect: str = "openai"
    enhance_prompt: bool | None = None  # None: the team's default
    callback_url: str | None = None  # where video.completed / video.failed is delivered
    seed: int | None = None  # sent where the provider takes one, else dropped and reported
    last_frame: Reference | None = None  # the last frame, where the provider takes one (Veo, Kling)
    reference_images: list[Reference] | None = None  # images the video should show (Veo), where taken


@dataclass
class Segment:
    """One upstream generation inside a job."""

    index: int
    seconds: int
    prompt: str
    kind: str = "create"  # create | remix | extend | edit
    source_upstream_id: str | None = None  # for remix/extend/edit
    upstream_id: str | None = None
    status: SegStatus = SegStatus.PENDING
    progress: int = 0
    attempts: int = 0
    error: dict[str, Any] | None = None
    expires_at: int | None = None
    next_poll_at: float = 0.0
    submitted_at: float | None = None
    content_path: str | None = None  # local copy, once fetched

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; nested dicts are shared with the segment (serialise it, do not keep it)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        seg = cls(**data)
        seg.status = SegStatus(seg.status)
        return seg


@dataclass
class Job:
    """A video the gateway owns, as a client sees it plus what it needs to drive it."""

    id: str
    tenant: str
    model: str
    prompt: str
    size: str
    seconds: str
    status: Status = Status.QUEUED
    progress: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))
    completed_at: int | None = None
    expires_at: int | None = None
    error: dict[str, Any] | None = None
    remixed_from_video_id: str | None = None
    kind: str = "create"
    segments: list[Segment] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    upstream: str = "default"  # the upstream profile it was created under (its dialect)
    route: str | None = None  # which configured upstream it runs on (None: the first); kept to the end
    requested: dict[str, Any] = field(default_factory=dict)  # the client's original fields
    content: dict[str, str] = field(default_factory=dict)  # variant -> local path
    cache_key: str | None = None
    cache: str | None = None  # hit | miss | coalesced | bypass
    cost_usd: float = 0.0
    poll_after_ms: int = 2000
    updated_at: float = field(default_factory=time.time)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def requested_reference(self) -> Reference | None:
        ref = self.requested.get("input_reference")
        return Reference(**ref) if isinstance(ref, dict) else None

    def requested_source_file(self) -> Reference | None:
        """The video file a client uploaded to be extended or edited (not one the upstream made)."""
        ref = self.requested.get("source_file")
        return Reference(**ref) if isinstance(ref, dict) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the stores; nested dicts and lists are shared with the job, not copied
        (``dataclasses.asdict`` deep-copied them: a tenth of a create's CPU), so serialise it at once."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["status"] = str(self.status)
        data["segments"] = [s.to_dict() for s in self.segments]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        data = dict(data)
        segments = [Segment.from_dict(s) for s in data.pop("segments", [])]
        known = {f for f in cls.__dataclass_fields__}
        job = cls(**{k: v for k, v in data.items() if k in known})
        job.status = Status(job.status)
        job.segments = segments
        return job
