"""Dream Machine's answers in the gateway's words: a Generation -> :class:`UpstreamVideo`, a refusal ->
:class:`UpstreamError`.

Generation (OpenAPI ``Generation``, SDK ``types/generation.py``): ``id``, ``generation_type``, ``state`` queued |
dreaming | completed | failed, ``failure_reason`` (text only: this API has no failure code), ``created_at``
(RFC 3339), ``assets`` ``{"video", "image", "progress_video"}``, ``model``, ``request`` (the create's echo: what a
listed generation is matched on after a lost create). Refusals are ``{"detail": "<text>"}`` (OpenAPI ``Error``);
the statuses are not enumerated by Luma, so they are read as HTTP says (429 rate, 402 balance, 5xx server).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from gateway.providers.luma_dream_machine.table import size_of
from gateway.upstreams.base import UpstreamError, UpstreamVideo
from gateway.upstreams.http import by_status, retry_after_of

POLL_MS = 5000
STATES = {"queued": "queued", "dreaming": "in_progress", "completed": "completed", "failed": "failed"}
# words of a failure_reason that mean Luma's moderation refused the generation (no code exists to say so)
SAFETY_WORDS = ("moderation", "moderated", "content policy", "guidelines", "inappropriate", "nsfw")


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def failure(reason: Any) -> dict[str, str]:
    text = reason if isinstance(reason, str) and reason else "The generation failed."
    safety = any(word in text.lower() for word in SAFETY_WORDS)
    return {"code": "moderation_blocked" if safety else "video_generation_failed", "message": f"Luma: {text}"}


def parse_generation(data: dict[str, Any]) -> UpstreamVideo:
    """A Generation; a completed one's ``assets.video`` is kept as ``content_ids["video"]``, the ``request`` echo
    as prompt, size and seconds (for reconciliation)."""
    state = str(data.get("state") or "queued")
    status = STATES.get(state, "queued")
    assets = data.get("assets") if isinstance(data.get("assets"), dict) else {}
    url = assets.get("video") if isinstance(assets.get("video"), str) else None
    error = failure(data.get("failure_reason")) if status == "failed" else None
    if status == "completed" and not url:
        status, error = "failed", {"code": "video_generation_failed", "message": "Luma: completed without a video."}
    request = data.get("request") if isinstance(data.get("request"), dict) else {}
    duration = request.get("duration")
    seconds = duration.removesuffix("s") if isinstance(duration, str) else None
    model = data.get("model") or request.get("model")
    return UpstreamVideo(
        id=str(data["id"]),
        status=status,
        progress=100 if status == "completed" else 0,
        error=error,
        seconds=seconds,
        size=size_of(request.get("aspect_ratio"), request.get("resolution")),
        model=model if isinstance(model, str) else None,
        poll_after_ms=POLL_MS if status in ("queued", "in_progress") else None,
        content_ids={"video": url} if status == "completed" and url else {},
        prompt=request.get("prompt") if isinstance(request.get("prompt"), str) else None,
        created_at=_epoch(data.get("created_at")),
    )


def read_error(response: httpx.Response) -> UpstreamError:
    """A Dream Machine refusal (``{"detail": ...}``) as an :class:`UpstreamError`."""
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, list):  # FastAPI's validation list
        detail = "; ".join(str(d.get("msg")) for d in detail if isinstance(d, dict)) or None
    message = f"Luma: {detail}" if isinstance(detail, str) and detail else f"Luma answered HTTP {status}"
    return by_status(status, message, retry_after=retry_after_of(response))


def cdn_error(response: httpx.Response) -> UpstreamError:
    if response.status_code in (401, 403, 404, 410):
        return UpstreamError(404, "The Luma asset URL expired or is gone.", code="content_expired")
    return UpstreamError(response.status_code, f"Luma's asset host answered HTTP {response.status_code}.")
