"""A create whose answer already says ``failed`` (the upstream decided before it answered).

Regression: the segment took the ``failed`` status from the create's answer, and as no poll ever
looked at a failed segment again, the job stayed ``in_progress`` forever (its followers too).
Now it is retried, or failed, exactly as a failure seen by a poll.
"""

from __future__ import annotations

from pathlib import Path

from gateway.core.models import Status
from gateway.store.memory import MemoryStore
from gateway.upstreams.base import GenerationSpec, UpstreamVideo
from tests.test_driver_robustness import FakeUpstream, driver_for, make_job, wait_until

FAILED_ERROR = {"code": "video_generation_failed", "message": "The generation failed."}


class FailsAtOnce(FakeUpstream):
    """Every create is answered with a generation that has already failed."""

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        self._count("create")
        return UpstreamVideo(id=f"up_{self.calls['create']}", status="failed", progress=0, error=dict(FAILED_ERROR))


async def _gone(store: MemoryStore) -> bool:
    return not await store.active_ids()


async def test_a_create_answered_failed_is_retried_then_fails_the_job(tmp_path: Path) -> None:
    store = MemoryStore()
    up = FailsAtOnce()
    driver = driver_for(store, up, tmp_path, max_attempts=2)
    job = make_job()
    await store.put(job)
    await driver.start()
    try:
        await wait_until(lambda: _gone(store), what="the job to end")
    finally:
        await driver.stop(1)
    stored = await store.get(job.id)
    assert stored is not None and stored.status == Status.FAILED, stored
    assert stored.error is not None and stored.error["code"] == "video_generation_failed"
    assert up.calls["create"] == 2, up.calls  # one retry (max_attempts 2), then the job failed: no more sends
    assert up.calls.get("retrieve", 0) == 0
