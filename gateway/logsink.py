"""Log lines written by a thread, never by the event loop.

Every request is logged; writing each line to stdout from the loop costs a system call per request and,
when stdout is a pipe nobody drains (a stuck log shipper), blocks the whole gateway. :class:`LineSink`
is the file object every log line goes to (the access log, structlog, the standard library's handler):
``write`` only appends to a list, ``flush`` wakes one writer thread, which writes whatever has gathered
in one call, then lets lines gather for ``linger_s`` before it may be woken again. Waking a thread for
every line costs as much as writing it (a futex and a hand-over of the GIL per request); this way a busy
gateway wakes it at most ``1 / linger_s`` times a second, and an idle one writes a line at once.

Lines stay in order (one list, one writer). If the stream stops taking lines, at most ``max_pending``
characters wait; lines past that are dropped and counted (``sora_gateway_log_writes_dropped_total``) rather
than holding up requests. ``close`` (at exit) writes what is left.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from typing import TextIO

MAX_PENDING = 16 * 1024 * 1024  # characters waiting for the writer before new ones are dropped
LINGER_S = 0.005  # after a write, how long lines gather before the next one


class LineSink:
    def __init__(
        self,
        stream: TextIO,
        on_drop: Callable[[], None] = lambda: None,
        max_pending: int = MAX_PENDING,
        linger_s: float = LINGER_S,
    ) -> None:
        self.stream = stream
        self.linger_s = linger_s
        self.on_drop = on_drop
        self.max_pending = max_pending
        self._pending: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, text: str) -> int:
        with self._lock:
            if self._size > self.max_pending:
                self.on_drop()
                return 0
            self._pending.append(text)
            self._size += len(text)
        return len(text)

    def flush(self) -> None:
        if not self._wake.is_set():
            self._wake.set()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is pending and stop the writer (idempotent)."""
        self._closed = True
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _take(self) -> str:
        with self._lock:
            batch, self._pending, self._size = self._pending, [], 0
        return "".join(batch)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            text = self._take()
            if text:
                try:
                    self.stream.write(text)
                    self.stream.flush()
                except (OSError, ValueError):  # stdout closed or broken: nothing more to write to
                    pass
            if self._closed and not self._pending:
                return
            if text and not self._closed:
                time.sleep(self.linger_s)
