"""Wait for a video with a progress bar on stderr (rich), fed by the job's ``progress`` and ``status``.

On a terminal the bar redraws in place; elsewhere (a pipe, a CI log) one plain line is written each
time the status changes or the progress passes another 10 %, so logs show it too.
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
    with Progress(*columns, console=console, transient=False, disable=not live) as bar:
        task = bar.add_task(f"{video.id} {video.status}", total=100, completed=video.progress)
        last = (video.status, video.progress // 10)
        if not live:
            console.print(f"{video.id} {video.status} {video.progress}%")
        while video.status not in ("completed", "failed"):
            sleep(_delay(video))
            video = fetch(video.id)
            done = 100 if video.status == "completed" else video.progress
            bar.update(task, completed=done, description=f"{video.id} {video.status}")
            now = (video.status, done // 10)
            if not live and now != last:
                console.print(f"{video.id} {video.status} {done}%")
            last = now
    return video
