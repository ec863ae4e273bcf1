"""A provider's result fetched from the signed URL it handed out, WITHOUT the provider's key.

Providers that keep their videos on object storage answer a finished task with a presigned URL that
expires (an hour to a day). The adapter remembers the URL it last saw; when the storage host refuses it as
expired (``content_expired``), the task is looked up once more for a fresh URL. A provider that does not
sign again hands back the same URL: the video is gone, and that is said (404 ``content_expired``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from gateway.upstreams.base import ContentStream, UpstreamError, UpstreamVideo
from gateway.upstreams.http import UpstreamHttp


def only_video(variant: str, who: str) -> None:
    """A provider that makes the video only: any other variant (thumbnail, spritesheet) is a 404."""
    if variant != "video":
        raise UpstreamError(404, f"{who} makes no {variant}.", code="not_found")


def range_of(range_header: str | None) -> dict[str, str]:
    return {"Range": range_header} if range_header else {}


def video_url_of(video: UpstreamVideo, what: str) -> str:
    """The finished task's video URL; a 404 naming ``what`` (e.g. "Runway task X") when it has none yet."""
    if "video" not in video.content_ids:
        raise UpstreamError(404, f"{what} has no video (status {video.status}).", code="not_found")
    return video.content_ids["video"]


async def stream_signed(
    storage: UpstreamHttp,
    remembered: MutableMapping[str, str],
    upstream_id: str,
    headers: dict[str, str],
    fresh_url: Callable[[str], Awaitable[str]],
    gone: str | None = None,
) -> ContentStream:
    """The bytes behind the URL ``remembered`` for ``upstream_id`` (or, when none is, or the storage says it
    expired, behind ``fresh_url(upstream_id)``). ``gone``: the message when the fresh URL is the expired one."""
    known = remembered.get(upstream_id)
    if known is not None:
        try:
            return await storage.stream(known, headers=headers, operation="content")
        except UpstreamError as exc:
            if exc.code != "content_expired":
                raise
            remembered.pop(upstream_id, None)
    fresh = await fresh_url(upstream_id)
    if gone is not None and fresh == known:
        raise UpstreamError(404, gone, code="content_expired")
    return await storage.stream(fresh, headers=headers, operation="content")
