"""Can the content store be written? A full disk must refuse new work, never discard paid work.

:class:`StorageHealth` answers from a small probe (write, fsync and remove 4 KiB under the content
root, plus ``min_free_bytes`` of free space) and from real writes that failed with ``ENOSPC`` or
``EDQUOT``. While it is unhealthy, admission refuses new creates (503 ``storage_unavailable``),
``/readyz`` is not ready, and a finished generation waits to be fetched (``jobs/finalize.py``)
instead of failing; it re-probes every second until space is back, then every ``probe_s``.

Tests that cannot mount a small filesystem set ``SORA_GATEWAY_TEST_DISK_FULL_FLAG`` to a path:
while that file exists, every content or upload write (and the probe) fails with ``ENOSPC``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from gateway.observability import REGISTRY, log
from gateway.tasks import cancel_and_wait

P = "sora_gateway_"
SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
TEST_FLAG_ENV = "SORA_GATEWAY_TEST_DISK_FULL_FLAG"
PROBE_BYTES = 4096
UNHEALTHY_PROBE_S = 1.0

CONTENT_WRITABLE = Gauge(
    P + "content_writable",
    "1 when the content store can be written, 0 while it is full or failing",
    registry=REGISTRY,
    multiprocess_mode="livemin",
)
CONTENT_WRITE_ERRORS = Counter(
    P + "content_write_errors_total",
    "Writes of videos or uploads that failed (reason: no_space, io)",
    ["reason"],
    registry=REGISTRY,
)
CONTENT_WRITABLE.set(1)
for _reason in ("no_space", "io"):
    CONTENT_WRITE_ERRORS.labels(_reason)  # exported at 0 from the start (alerts, dashboards)


def is_space_error(exc: BaseException | None) -> bool:
    """``ENOSPC``/``EDQUOT`` anywhere in the exception chain (PyAV's errors are OSErrors too)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in SPACE_ERRNOS:
            return True
        if "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def raise_if_simulated_full() -> None:
    """The test-only switch: a full disk where a test cannot mount a small filesystem."""
    flag = os.environ.get(TEST_FLAG_ENV)
    if flag and os.path.exists(flag):
        raise OSError(errno.ENOSPC, "No space left on device (simulated)")


class StorageHealth:
    def __init__(self, root: str | Path, *, min_free_bytes: int = 0, probe_s: float = 10.0) -> None:
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        self.probe_s = probe_s
        self.ok = True
        self.error: str | None = None
        self.free_bytes: int | None = None
        self.checked_at = 0.0
        self.need_free_bytes = 0  # after a real write failed for space: room the probe must find
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def _set(self, ok: bool, error: str | None) -> None:
        if ok != self.ok:
            (log.info if ok else log.error)("content_store_writable" if ok else "content_store_full", error=error)
        self.ok, self.error = ok, error
        CONTENT_WRITABLE.set(1 if ok else 0)

    def write_result(self, exc: BaseException | None, attempted_bytes: int = 0) -> None:
        """A real write ended: a success clears what an earlier failure asked for; a failure is counted,
        and a full disk marks the store unwritable at once, until the probe finds room for twice what
        the failed write had written (a small probe file alone fitting again proves little)."""
        if exc is None:
            if self.need_free_bytes:
                self.need_free_bytes = 0
                self.checked_at = 0.0  # look again now
            return
        space = is_space_error(exc)
        CONTENT_WRITE_ERRORS.labels("no_space" if space else "io").inc()
        if space:
            self.need_free_bytes = max(self.need_free_bytes, 2 * attempted_bytes)
            self._set(False, "no space left on the content store's filesystem")
            self.checked_at = time.monotonic()
            self._wake.set()

    def probe(self) -> bool:
        """Write, fsync and remove a small file; check the free space. Blocking: run it in a thread."""
        self.checked_at = time.monotonic()
        probe = self.root / f".probe-{os.getpid()}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            raise_if_simulated_full()
            with open(probe, "wb") as fh:
                fh.write(b"\0" * PROBE_BYTES)
                fh.flush()
                os.fsync(fh.fileno())
            self.free_bytes = shutil.disk_usage(self.root).free
        except OSError as exc:
            self._set(False, f"cannot write the content store ({os.strerror(exc.errno or errno.EIO)})")
            return False
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        needed = max(self.min_free_bytes, self.need_free_bytes)
        if self.free_bytes < needed:
            self._set(False, f"{self.free_bytes} bytes free, {needed} needed (content_min_free_bytes, failed writes)")
            return False
        self._set(True, None)
        return True

    async def check(self) -> bool:
        """Writable now? No I/O while it is (the background loop and failed writes keep watch); while it
        is not, a look older than a second is refreshed (off the event loop) so recovery shows at once."""
        if not self.ok and time.monotonic() - self.checked_at >= UNHEALTHY_PROBE_S:
            return await asyncio.to_thread(self.probe)
        return self.ok

    def status(self) -> dict[str, Any]:
        """For /readyz: not ready while the content store cannot be written."""
        result: dict[str, Any] = {"ok": self.ok, "root": str(self.root), "free_bytes": self.free_bytes}
        if self.error:
            result["error"] = self.error
        return result

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._loop(), name="content-space")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), UNHEALTHY_PROBE_S if not self.ok else self.probe_s)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.probe)
