"""Provider callbacks as the follow method: the gateway's own ``callback_url`` on a create, and what arrives there.

When ``public_base_url`` is set and a job's provider calls a create's ``callback_url`` back (its adapter says
``callbacks = True``: Ark/Seedance, MiniMax Hailuo, Luma Dream Machine, Kling), each segment's create names
``{public_base_url}/v1/gateway/upstream-callbacks/{video_id}/{segment}/{token}``; ``token`` is a random secret
made for the job and stored with it (``Job.requested``, never shown to clients) before the create is sent.

What arrives is only a hint (:class:`UpstreamCallbacks`): the token is compared in constant time and anything
else (an unknown video, a wrong token or segment) is refused and changes nothing. An authenticated callback
is written to the store (``kv``: ``upcb:{video_id}:{segment}``), so whichever replica drives the job sees
it at its next step (:func:`take_hint`), and this replica's driver is woken at once:

- ``end``: the body reads as an ended task (or cannot be read): the segment is confirmed with ONE status
  call straight to the upstream (never a listing answered earlier), and only that call's answer counts;
- ``alive``: the body reads as a task still queued or running: no upstream call, the safety poll waits a
  full ``callback_safety_poll_s`` from now (the provider's callbacks reach us), and what the body says moves
  the client-visible state forward (:func:`running_state`: queued -> in_progress, the provider's progress
  where it gives one), kept beside the hint (``upcbs:{video_id}:{segment}``, the latest callback's). Only
  forward: a late "queued" never takes a running segment back, progress never goes down.

Such a job is still polled, as the safety net for a callback that never comes, once per
``callback_safety_poll_s`` (60 s by default, up to a fifth more so jobs made together are not polled together)
after the last thing heard about it, instead of every few seconds.
"""

from __future__ import annotations

import hmac
import random
import secrets
from collections.abc import Callable
from typing import Any

from gateway.core.models import Job, Segment, SegStatus
from gateway.store.base import JobStore
from gateway.upstreams.base import Upstream

TOKEN = "upstream_callback_token"  # Job.requested: the job's callback secret
PATH = "/v1/gateway/upstream-callbacks"
HINT = "upcb:"  # kv: "{video_id}:{segment}" -> "end" | "alive"
HINT_TTL_S = 3600.0  # a hint nobody took (the job was deleted, or ended by a poll) is gone after this
END, ALIVE = "end", "alive"
STATE = "upcbs:"  # kv: "{video_id}:{segment}" -> "queued" | "in_progress" | "in_progress:<0-99>"
QUEUED_WORDS = {"queued", "queueing", "pending", "submitted", "preparing"}
STARTED_WORDS = {"running", "processing", "dreaming", "in_progress", "generating"}
RUNNING_WORDS = QUEUED_WORDS | STARTED_WORDS
PROGRESS_KEYS = ("progress", "task_progress", "progress_percent", "percent", "percentage")


SAFETY_JITTER = 0.2  # a safety poll waits 1 to 1.2 intervals: jobs made together are not all polled together


def safety_wait(interval_s: float) -> float:
    """How long a job followed by callbacks waits for its next (safety) poll."""
    return interval_s * (1 + SAFETY_JITTER * random.random())


def callbacks_on(upstream: Upstream, base_url: str | None) -> bool:
    """Whether a job on ``upstream`` is followed by callbacks: ``public_base_url`` is set and it calls back."""
    return bool(base_url) and bool(getattr(upstream, "callbacks", False))


def ensure_token(job: Job) -> str:
    """The job's callback secret, made on first use (saved with the job before any create is sent)."""
    token = job.requested.get(TOKEN)
    if not isinstance(token, str) or not token:
        token = job.requested[TOKEN] = secrets.token_urlsafe(24)
    return token


def callback_url(base_url: str, job: Job, seg: Segment) -> str | None:
    token = job.requested.get(TOKEN)
    if not isinstance(token, str) or not token:
        return None
    return f"{base_url.rstrip('/')}{PATH}/{job.id}/{seg.index}/{token}"


def followed_by_callbacks(job: Job) -> bool:
    return isinstance(job.requested.get(TOKEN), str)


STATUS_KEYS = ("status", "state", "task_status")  # Ark, MiniMax: status; Luma: state; Kling: task_status
WRAPPERS = ("task", "data", "output")  # MiniMax v2: {"task": {...}}; Kling: {"data": {...}}; DashScope: output


def _status_word(body: Any) -> tuple[str, dict[str, Any]] | None:
    """The first status word of the body (at its top or one level down) and the object that holds it."""
    if not isinstance(body, dict):
        return None
    for where in (body, *(body.get(key) for key in WRAPPERS)):
        if not isinstance(where, dict):
            continue
        for key in STATUS_KEYS:
            word = where.get(key)
            if isinstance(word, str) and word.strip():
                return word.strip().lower(), where
    return None


def reading(body: Any) -> str:
    """``alive`` when the body names a status still queued or running (at its top or one level down);
    ``end`` otherwise (ended, or unknown: a status call tells)."""
    found = _status_word(body)
    return ALIVE if found is not None and found[0] in RUNNING_WORDS else END


def _progress(where: dict[str, Any]) -> int | None:
    """A progress the provider gave (0-100, or a fraction 0-1 as a float), capped at 99 (only the end is 100)."""
    for key in PROGRESS_KEYS:
        value = where.get(key)
        if isinstance(value, str) and value.strip().rstrip("%").isdigit():
            value = int(value.strip().rstrip("%"))
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, float) and 0.0 <= value < 1.0:
            value *= 100
        if 0 <= value <= 100:
            return min(int(value), 99)
    return None


def running_state(body: Any) -> str | None:
    """What a running callback says for the client: ``queued``, ``in_progress`` or ``in_progress:<progress>``
    (``None``: it names no running status)."""
    found = _status_word(body)
    if found is None or found[0] not in RUNNING_WORDS:
        return None
    word, where = found
    progress = _progress(where)
    if word in QUEUED_WORDS:
        return "queued" if not progress else f"in_progress:{progress}"  # progress made: it has started
    return "in_progress" if progress is None else f"in_progress:{progress}"


def apply_state(seg: Segment, state: str | None) -> bool:
    """Move ``seg`` forward by a callback's :func:`running_state` (never back); True when something moved."""
    if not state or seg.status not in (SegStatus.QUEUED, SegStatus.IN_PROGRESS):
        return False
    word, _, number = state.partition(":")
    moved = False
    if word == "in_progress" and seg.status == SegStatus.QUEUED:
        seg.status, moved = SegStatus.IN_PROGRESS, True
    if number.isdigit() and int(number) > seg.progress:
        seg.progress, moved = min(int(number), 99), True
    return moved


async def take_hint(store: JobStore, job: Job, seg: Segment, prefix: str = HINT) -> str | None:
    """The callback hint waiting for ``seg`` (``end`` / ``alive``), taken (deleted) so it is acted on once."""
    key = f"{prefix}{job.id}:{seg.index}"
    value = await store.kv_get(key)
    if value is None:
        return None
    await store.kv_delete_if(key, value)
    return value


async def take_state(store: JobStore, job: Job, seg: Segment) -> str | None:
    """The latest running state a callback gave for ``seg`` (:func:`running_state`), taken."""
    return await take_hint(store, job, seg, STATE)


class UpstreamCallbacks:
    """Receives provider callbacks for the job driver: authenticates, answers a handshake, leaves a hint."""

    def __init__(self, store: JobStore, adapter: Callable[[Job], Upstream], wake: Callable[[str], None]) -> None:
        self.store = store
        self.adapter = adapter
        self.wake = wake

    async def receive(self, video_id: str, segment: str, token: str, body: Any) -> tuple[str, Any | None]:
        """``(result, reply)``: result ``refused`` (forged or unknown: nothing changed), ``handshake`` (reply is
        the provider's echo), ``ignored`` (the job ended already), or ``end`` / ``alive`` (a hint was left)."""
        job = await self.store.get(video_id)
        expected = job.requested.get(TOKEN) if job is not None else None
        if job is None or not isinstance(expected, str) or not expected:
            return "refused", None
        if not hmac.compare_digest(expected.encode(), token.encode()):
            return "refused", None
        if not segment.isdigit() or int(segment) >= len(job.segments):
            return "refused", None
        reply = self.adapter(job).callback_reply(body)
        if reply is not None:
            return "handshake", reply
        if job.terminal:
            return "ignored", None
        kind = reading(body)
        key = f"{HINT}{job.id}:{int(segment)}"
        state = running_state(body) if kind == ALIVE else None
        if state is not None:  # before the hint: whoever takes the hint finds it (the latest callback's wins)
            await self.store.kv_set(f"{STATE}{job.id}:{int(segment)}", state, ttl_s=HINT_TTL_S)
        # an "alive" never overwrites an "end" not yet taken (callbacks may arrive out of order)
        await self.store.kv_set(key, kind, ttl_s=HINT_TTL_S, nx=kind == ALIVE)
        self.wake(job.id)
        return kind, None
