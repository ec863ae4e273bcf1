"""Find the generation a lost create-like call made, for every kind of segment, before re-sending it.

An upstream may ignore ``Idempotency-Key`` (the OpenAI Videos API does not document it), so a
segment whose create, remix, extension or edit may have reached the upstream (the replica died
while the call was held, or the answer was a 5xx or a dropped connection) is looked for in the
upstream's recent generations first. A listed video matches when everything the listing shows
agrees with what the segment sent:

| kind    | matched on |
|---------|------------|
| create  | prompt, model, size, seconds, created since the first send |
| remix   | prompt, ``remixed_from_video_id`` = the source, created since the first send |
| extend  | prompt, not a remix, seconds = the source's length + the extension, created since |
| edit    | prompt, not a remix, seconds = the source's length, created since |

(The source's length is read from the upstream; for a file the client uploaded it is unknown and
the prompt and time decide.) Every adopted id is claimed in the store (``kv_set(nx=True)``), so two
segments with the same prompt never adopt the same generation.
"""

from __future__ import annotations

from typing import Protocol

from gateway.upstreams.base import GenerationSpec, Upstream, UpstreamError, UpstreamVideo

CLOCK_SKEW_S = 5.0  # an upstream video created this long before our submitted_at may still be ours
CLAIM_PREFIX = "upstream-claim:"  # kv: adapter name + upstream id -> "job id:segment index"
CLAIM_TTL_S = 7 * 86400.0


class Claims(Protocol):
    """The part of the job store that records which segment took which upstream id."""

    async def kv_get(self, key: str) -> str | None: ...

    async def kv_set(self, key: str, value: str, *, ttl_s: float | None = None, nx: bool = False) -> bool: ...


def claim_key(upstream: Upstream, upstream_id: str) -> str:
    """The keyed value naming who took ``upstream_id`` (a new job's first claim is saved with the job)."""
    return f"{CLAIM_PREFIX}{upstream.name}:{upstream_id}"


async def claim(claims: Claims | None, upstream: Upstream, owner: str, upstream_id: str) -> bool:
    """Record that ``owner`` ("job id:segment index") took ``upstream_id``; False: another one has it."""
    if claims is None:
        return True
    key = claim_key(upstream, upstream_id)
    if await claims.kv_set(key, owner, ttl_s=CLAIM_TTL_S, nx=True):
        return True
    return await claims.kv_get(key) == owner  # ours already (we died before saving the id)


async def expected_seconds(upstream: Upstream, spec: GenerationSpec) -> int | None:
    """The ``seconds`` the upstream's video of this generation shows; ``None`` when it cannot be known."""
    if spec.kind == "create":
        return spec.seconds
    if spec.kind == "remix" or spec.source_id is None:
        return None  # a remix is matched by its source; an uploaded file's length is not upstream
    direct: Upstream = getattr(upstream, "adapter", upstream)  # a rare call: not through the status budget
    try:
        source = await direct.retrieve(spec.source_id)
    except UpstreamError as exc:
        if exc.retryable:
            raise  # cannot tell yet: the caller waits rather than re-send blind
        return None  # the source is gone upstream: prompt and time decide
    try:
        total = round(float(source.seconds or ""))
    except ValueError:
        return None
    return total + spec.seconds if spec.kind == "extend" else total


def matches(video: UpstreamVideo, spec: GenerationSpec, since: float, seconds: int | None) -> bool:
    if video.client_token is not None:  # the provider kept our idempotency key: exact
        return video.client_token == spec.idempotency_key
    if video.prompt != spec.prompt or video.created_at is None or video.created_at < since:
        return False
    if seconds is not None and (video.seconds is None or str(video.seconds) != str(seconds)):
        return False
    if spec.kind == "create":
        return video.model == spec.model and video.size == spec.size and not video.remixed_from
    if spec.kind == "remix":
        return video.remixed_from == spec.source_id
    return not video.remixed_from and (video.model is None or video.model == spec.model)


async def find_lost(
    upstream: Upstream, claims: Claims | None, owner: str, spec: GenerationSpec, submitted_at: float
) -> UpstreamVideo | None:
    """The generation this segment's lost call made (now claimed for it), or ``None``: nothing was made.

    Raises :class:`UpstreamError` when the upstream cannot answer (retryable: try again later).
    """
    since = submitted_at - CLOCK_SKEW_S
    seconds = await expected_seconds(upstream, spec)
    recent = await upstream.list_recent(since)
    found = [v for v in recent if matches(v, spec, since, seconds)]
    found.sort(key=lambda v: v.created_at or 0.0)  # the earliest first: ours was sent first
    for video in found:
        if await claim(claims, upstream, owner, video.id):
            return video
    return None
