"""The small protocol every upstream adapter implements.

An adapter speaks one provider's dialect (``gateway/providers/<name>/dialect.py``).
It knows nothing of tenants, quotas or gateway ids: it takes a
:class:`GenerationSpec` and returns :class:`UpstreamVideo` s in the gateway's
normalised vocabulary (statuses queued, in_progress, completed, failed; error
codes as the gateway's own face speaks them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.core.models import Reference


@dataclass
class GenerationSpec:
    """One upstream generation, already translated to what the upstream supports."""

    kind: str  # create | remix | extend | edit
    prompt: str
    model: str
    size: str
    seconds: int
    source_id: str | None = None  # upstream id for remix / extend / edit
    reference: Reference | None = None
    idempotency_key: str | None = None
    # extend / edit of a video the client uploaded (not one the upstream made): sent as the ``video`` file
    source_file: Reference | None = None
    # what the provider takes in its own fields (Capabilities.native_fields), its dialect's to name
    negative_prompt: str | None = None
    seed: int | None = None
    last_frame: Reference | None = None
    reference_images: tuple[Reference, ...] = ()
    enhance_prompt: bool = False  # the provider's own prompt enhancement (Veo's enhancePrompt)
    callback_url: str | None = None  # where the provider announces the end (provider callbacks)


@dataclass
class UpstreamVideo:
    id: str
    status: str  # queued | in_progress | completed | failed (normalised)
    progress: int = 0
    error: dict[str, Any] | None = None
    expires_at: int | None = None
    seconds: str | None = None
    size: str | None = None
    model: str | None = None
    poll_after_ms: int | None = None
    content_ids: dict[str, str] = field(default_factory=dict)  # adapter-specific content handles
    prompt: str | None = None  # as the upstream recorded it (filled by list_recent)
    created_at: float | None = None  # upstream clock, seconds since the epoch
    remixed_from: str | None = None  # the upstream id a remix was made from
    # the client token the provider keeps with it (Kling's external_task_id): the segment's idempotency key,
    # which identifies a lost create exactly when the provider lists it back
    client_token: str | None = None


@dataclass
class ListPage:
    """One page of the upstream's own listing, newest first (``after``: the last id, for the next page)."""

    videos: list[UpstreamVideo]
    has_more: bool
    poll_after_ms: int | None = None  # the upstream's poll hint on the listing, if any


class UpstreamError(Exception):
    """The upstream refused or failed. ``retryable`` errors are retried by the job driver."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Network trouble (status 0), rate limits, server errors and timeouts are worth retrying."""
        return self.status in (0, 408, 409, 429) or self.status >= 500

    @property
    def client_fault(self) -> bool:
        """The request itself was refused (bad value, moderation): say so to the client."""
        return 400 <= self.status < 500 and self.status not in (401, 403, 408, 409, 429)


@dataclass
class ContentStream:
    """An open upstream download. Iterate ``chunks`` and then ``close``."""

    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]
    closer: Any = None

    async def close(self) -> None:
        if self.closer is not None:
            await self.closer()


class Upstream(Protocol):
    name: str
    base_url: str
    lists: bool  # it has a listing (list_page/list_recent): the status sweep and reconciliation can use it
    callbacks: bool  # it calls a create's ``callback_url`` back when the task changes (provider callbacks)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo: ...

    async def retrieve(self, upstream_id: str) -> UpstreamVideo: ...

    async def delete(self, upstream_id: str) -> None: ...

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        """Generations created at or after ``since`` (upstream clock), newest first, with their prompts.

        Used to find a create whose response was lost before re-sending it (an upstream may ignore
        ``Idempotency-Key``).
        """

    async def list_page(self, after: str | None = None) -> ListPage:
        """One page (up to 100) of the upstream's generations, newest first, continuing after ``after``.

        The job driver's status sweep (:mod:`gateway.jobs.sweep`) reads in-flight jobs from it.
        """

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """Start a download; raise :class:`UpstreamError` when it is not there (404) or fails."""

    async def list_models(self) -> list[dict[str, Any]]: ...

    async def moderate(self, text: str) -> dict[str, Any] | None:
        """The upstream's moderation verdict on ``text`` (``results[0].flagged``); ``None``: it has none."""

    async def complete_chat(self, model: str, messages: list[dict[str, str]], *, timeout_s: float = 30.0) -> str | None:
        """The upstream's chat completion of ``messages`` (its first choice's text); ``None``: it has none."""

    async def forward(
        self, method: str, path: str, *, json: Any = None, files: Any = None, data: Any = None
    ) -> tuple[int, Any]:
        """Pass a request the gateway does not model (characters) straight through."""

    def callback_reply(self, body: Any) -> Any | None:
        """The answer a provider's callback needs beyond a 200 (MiniMax's ``challenge`` echo); ``None``: none."""

    async def close(self) -> None: ...
