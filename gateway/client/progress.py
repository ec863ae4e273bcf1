"""Wait for a video with a progress bar on stderr (rich), fed by the job's ``progress`` and ``status``.

On a terminal the bar redraws in place, the id shortened (``video_0661…a9f3``) so that an
80-column line keeps a readable bar and timer. Elsewhere (a pipe, a CI log) one plain line is
written per 10 % of progress (``video_... in_progress 30%``; a step passed between two polls gets
its line too) and one when the status changes, with the full id, so logs show it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from gateway.client.api import Video

POLL_MIN_S, POLL_MAX_S = 0.25, 5.0


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _delay(video: Video) -> float:
    hint = (video.poll_after_ms or 1000) / 1000
    return min(max(hint, POLL_MIN_S), POLL_MAX_S)


def short_id(video_id: str) -> str:
    """``video_`` + 48 hex digits -> ``video_0661…a9f3`` (the full id is on the ``created`` line)."""
    return f"{video_id[:10]}…{video_id[-4:]}" if len(video_id) > 20 else video_id


class LogLines:
    """The plain progress lines of a log: one per 10 % step reached, one per status change."""

    def __init__(self, console: Console, video: Video) -> None:
        self.console = console
        self.step = min(video.progress, 99) // 10  # the last 10 % step written
        self.status = video.status
        self._line(video.id, video.status, video.progress)

    def _line(self, video_id: str, status: str, percent: int) -> None:
        self.console.print(f"{video_id} {status} {percent}%", highlight=False)

    def show(self, video: Video) -> None:
        if video.status == "completed":  # steps not seen between two polls were passed all the same
            for step in range(self.step + 1, 10):
                self._line(video.id, "in_progress", step * 10)
            self._line(video.id, video.status, 100)
        elif video.status == "failed":
            self._line(video.id, video.status, video.progress)
        else:
            reached = min(video.progress, 99) // 10
            for step in range(self.step + 1, reached + 1):
                self._line(video.id, video.status, step * 10)
            if reached <= self.step and video.status != self.status:
                self._line(video.id, video.status, video.progress)
            self.step = max(self.step, reached)
        self.status = video.status


def wait_for(
    video: Video,
    fetch: Callable[[str], Video],
    console: Console,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Video:
    """Poll until the video is ``completed`` or ``failed``; draws the bar meanwhile."""
    if video.status in ("completed", "failed"):
        return video
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    live = console.is_interactive
    name = short_id(video.id)
    with Progress(*columns, console=console, transient=False, disable=not live) as bar:
        task = bar.add_task(f"{name} {video.status}", total=100, completed=video.progress)
        lines = None if live else LogLines(console, video)
        while video.status not in ("completed", "failed"):
            sleep(_delay(video))
            video = fetch(video.id)
            done = 100 if video.status == "completed" else video.progress
            bar.update(task, completed=done, description=f"{name} {video.status}")
            if lines is not None:
                lines.show(video)
    return video
