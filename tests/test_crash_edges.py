"""SIGKILL at the edges of admission (issue 21): between a charge and a stored job, between scenes and their story,
and the same-key retry after a crash on the seed route and on remixes.

The moments are held, not hit by chance: ``slow`` holds every upstream call the gateway makes for ``slow_s``
(prompt enhancement's chat call, after the quota charged and before the job is stored), and
``late`` holds a create's answer after the upstream made the generation (see tests/test_crash_moments.py).
The simulator counts each call before it holds it, so the test kills once the held call has arrived.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import calls
from tests.procs import wait_for
from tests.test_crash_moments import HOLD, WAIT_S, Crash, died

HELD_CALLS = "slow=1.0,slow_s=4"  # every upstream call held 4 s: the kill lands while one is held


def kill_during(crash: Crash, operation: str) -> None:
    """SIGKILL the gateway while its ``operation`` call to the upstream is held; start it again."""
    wait_for(lambda: calls(crash.sim, operation) >= 1, f"a {operation} call", timeout=WAIT_S)
    crash.kill_when_made(0)


def usage(crash: Crash) -> dict[str, Any]:
    got = crash.get("/v1/gateway/usage")
    assert got.status_code == 200, got.text
    return dict(got.json()["usage"])


def wait_batch(crash: Crash, batch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        got = crash.get(f"/v1/gateway/batches/{batch_id}")
        assert got.status_code == 200, got.text
        if got.json()["status"] != "in_progress":
            return dict(got.json())
        assert time.monotonic() < deadline, got.json()
        time.sleep(0.3)


@pytest.fixture
def sqlite_crash(tmp_path: Path) -> Any:
    c = Crash(tmp_path, "sqlite")
    yield c
    c.stop()


def test_a_batch_item_killed_after_its_charge_is_charged_once(sqlite_crash: Crash) -> None:
    """Killed during the first item's enhancement (after the quota charged it, before its job was stored): the batch's
    resume makes it under the same id and the quota (in-process, persisted in SQLite) does not charge it again."""
    crash = sqlite_crash
    crash.faults(HELD_CALLS)
    body = {"prompt": "a paper lantern", "n": 2, "seconds": "4", "enhance_prompt": True}
    outcome = crash.post_in_background("/v1/gateway/batches", body)
    kill_during(crash, "chat_completions")
    assert died(outcome), outcome
    (batch,) = crash.get("/v1/gateway/batches").json()["data"]
    batch = wait_batch(crash, batch["id"])
    assert batch["status"] == "completed", batch
    assert crash.stats()["generations"] == 2
    assert usage(crash)["video_seconds_today"] == 8  # two 4 s videos, the first charged once


@pytest.fixture(params=["sqlite", "redis"])
def crash(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    c = Crash(tmp_path, request.param)
    yield c
    c.stop()


def test_scenes_of_a_story_killed_before_it_was_stored_are_cleaned(crash: Crash) -> None:
    """Killed during the enhancement's chat call: the scene records were written, the story never stored.
    After the restart the orphaned scenes go (nothing can ever complete them); the same-key retry makes the story."""
    crash.faults(HELD_CALLS)
    scenes = [{"prompt": "a lamp lights", "seconds": 4}, {"prompt": "a moth arrives", "seconds": 4}]
    body = {"scenes": scenes, "enhance_prompt": True}
    key = {"Idempotency-Key": "story-orphans-1"}
    outcome = crash.post_in_background("/v1/gateway/stories", body, headers=key)
    kill_during(crash, "chat_completions")
    assert died(outcome), outcome

    def listed() -> list[dict[str, Any]]:
        got = crash.get("/v1/videos?limit=100")
        assert got.status_code == 200, got.text
        return list(got.json()["data"])

    wait_for(lambda: not listed(), "the orphaned scene records to go", timeout=WAIT_S)
    assert crash.stats()["generations"] == 0
    again = crash.post("/v1/gateway/stories", body, headers=key)
    assert again.status_code == 200, again.text
    story = crash.wait_done(again.json()["id"])
    assert story["status"] == "completed", story
    for scene_id in story["scenes"]:
        assert crash.wait_done(scene_id)["status"] == "completed"
    assert len(listed()) == 3  # the story and its two scenes, nothing left of the first attempt
    assert crash.stats()["generations"] == 2
    assert usage(crash)["video_seconds_today"] == 8  # the dead attempt's charge (taken before the kill) given back


def test_same_key_on_the_seed_route_after_a_crash_answers_the_same_generation(crash: Crash) -> None:
    crash.faults(HOLD)
    body, key = {"prompt": "a seed order", "duration_seconds": 4}, {"Idempotency-Key": "seed-order-1"}
    outcome = crash.post_in_background("/v1/video/generations", body, headers=key)
    crash.kill_when_made(1)  # the create made upstream, its answer held: the first request died with the gateway
    assert died(outcome), outcome
    retry = crash.post("/v1/video/generations", body, headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    generation_id = retry.json()["id"]
    assert crash.wait_done(generation_id)["status"] == "completed"
    done = crash.get(f"/v1/video/generations/{generation_id}")
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    again = crash.post("/v1/video/generations", body, headers=key)
    assert again.status_code == 200 and again.json()["id"] == generation_id, again.text
    assert [v["id"] for v in crash.get("/v1/videos").json()["data"]] == [generation_id]
    assert crash.stats()["generations"] == 1


def test_same_key_on_a_remix_after_a_crash_answers_the_same_remix(crash: Crash) -> None:
    source = crash.post("/v1/videos", {"prompt": "a lake at dawn", "seconds": "4"})
    assert source.status_code == 200, source.text
    source_id = source.json()["id"]
    assert crash.wait_done(source_id)["status"] == "completed"
    crash.faults(HOLD)
    body, key = {"prompt": "the lake at dusk"}, {"Idempotency-Key": "remix-order-1"}
    outcome = crash.post_in_background(f"/v1/videos/{source_id}/remix", body, headers=key)
    crash.kill_when_made(2)  # the remix made upstream, its answer held
    assert died(outcome), outcome
    retry = crash.post(f"/v1/videos/{source_id}/remix", body, headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    remix_id = retry.json()["id"]
    assert retry.json()["remixed_from_video_id"] == source_id
    assert crash.wait_done(remix_id)["status"] == "completed"
    again = crash.post(f"/v1/videos/{source_id}/remix", body, headers=key)
    assert again.status_code == 200 and again.json()["id"] == remix_id, again.text
    assert sorted(v["id"] for v in crash.get("/v1/videos").json()["data"]) == sorted([source_id, remix_id])
    assert crash.stats()["generations"] == 2  # the source and one remix: the lost remix adopted, never re-made
