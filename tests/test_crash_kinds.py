"""The crash campaign by kind (issue 21, "Done when"): SIGKILLs at the worst moment of each kind of order.

Kinds: a create after a 429, a 30 s create (12 s + a 20 s extension upstream: killed once while each is held),
a batch, a story, a remix, an extension. Each kill lands at the exact moment: the simulator's ``late`` fault holds
a create's answer after it made the generation (see tests/test_crash_moments.py); the gateway is killed then and
started again on the same store (SQLite; ``SORA_CRASH_STORE=redis`` for Redis). After every order: it was made
exactly once upstream (the simulator's count of generations), the killed batch or story is complete, and the
same-key retry answers the same work within the lease time.

``SORA_CRASH_KILLS`` (default 2) is how many kills each kind takes: CI runs a few; ``SORA_CRASH_KILLS=20`` is the
issue's campaign (``-rP`` prints the figures of each kind).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import start_gateway
from tests.procs import wait_for
from tests.test_crash_moments import HOLD, WAIT_S, Crash, died

KILLS = int(os.environ.get("SORA_CRASH_KILLS", "2"))
STORE = os.environ.get("SORA_CRASH_STORE", "sqlite")  # or redis
RETRY_WITHIN_S = 30.0  # the lease (2 s in the tests' config) plus a restart on a loaded machine


def generations(c: Crash) -> int:
    return int(c.stats()["generations"])


def kill_at(c: Crash, made: int, then: str = "") -> None:
    """SIGKILL once the simulator has made ``made`` generations (the last one's answer held); start again with
    the simulator's faults set to ``then``."""
    wait_for(lambda: generations(c) >= made, f"{made} generations", timeout=WAIT_S)
    c.gw.proc.kill()
    c.faults(then)
    c.gw = start_gateway(c.sim, c.tmp / "gw", c.store, config=c.config, port=c.port)


def same_work(c: Crash, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    """The same-key retry after the crash: answered (replayed) within the lease time."""
    started = time.monotonic()
    retry = c.post(path, body, headers={"Idempotency-Key": key})
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true", retry.headers
    assert time.monotonic() - started < RETRY_WITHIN_S
    return dict(retry.json())


def ordered(c: Crash, path: str, body: dict[str, Any], key: str, made: int, then: str = "") -> None:
    """Send the order with its key, its create held upstream; killed there (the request dies with the gateway)."""
    c.faults(HOLD)
    outcome = c.post_in_background(path, body, headers={"Idempotency-Key": key})
    kill_at(c, made, then)
    assert died(outcome), outcome


def completed(c: Crash, video_id: str) -> dict[str, Any]:
    video = c.wait_done(video_id)
    assert video["status"] == "completed", video
    return video


# -- one order of each kind, killed; how many kills it took ------------------------------------------------------


def after_a_429(c: Crash, i: int, _: str | None) -> int:
    before, refused = generations(c), int(c.stats()["faults"]["429"])
    c.faults("429=1.0")  # every create refused: surely nothing made, the job keeps trying
    created = c.post("/v1/videos", {"prompt": f"after a 429 #{i}", "seconds": "4"})
    assert created.status_code == 200, created.text
    wait_for(lambda: int(c.stats()["faults"]["429"]) >= refused + 2, "two 429s", timeout=WAIT_S)
    c.faults(HOLD)  # the next re-send makes the generation, its answer held
    kill_at(c, before + 1)
    completed(c, created.json()["id"])
    assert generations(c) - before == 1
    return 1


def thirty_seconds(c: Crash, i: int, _: str | None) -> int:
    before, key = generations(c), f"long-{i}"
    body = {"prompt": f"a long take #{i}", "seconds": "30"}
    ordered(c, "/v1/videos", body, key, before + 1, then=HOLD)  # the 12 s create held; the extension will be too
    kill_at(c, before + 2)  # the 20 s extension (sent by the restarted gateway) held: killed again
    video = completed(c, same_work(c, "/v1/videos", body, key)["id"])
    assert video["seconds"] == "30"
    assert generations(c) - before == 2
    return 2


def batch(c: Crash, i: int, _: str | None) -> int:
    before, key = generations(c), f"batch-{i}"
    body = {"prompt": f"kites #{i}", "n": 3, "seconds": "4"}
    ordered(c, "/v1/gateway/batches", body, key, before + 1)
    batch_id = same_work(c, "/v1/gateway/batches", body, key)["id"]
    deadline = time.monotonic() + WAIT_S
    while True:
        got = c.get(f"/v1/gateway/batches/{batch_id}")
        assert got.status_code == 200, got.text
        if got.json()["status"] != "in_progress":
            break
        assert time.monotonic() < deadline, got.json()
        time.sleep(0.3)
    assert got.json()["status"] == "completed", got.json()
    assert len({v["id"] for v in got.json()["videos"]}) == 3
    assert generations(c) - before == 3
    return 1


def story(c: Crash, i: int, _: str | None) -> int:
    before, key = generations(c), f"story-{i}"
    body = {"scenes": [{"prompt": f"a fox wakes #{i}", "seconds": 4}, {"prompt": "the fox runs", "seconds": 4}]}
    ordered(c, "/v1/gateway/stories", body, key, before + 1)
    made = completed(c, same_work(c, "/v1/gateway/stories", body, key)["id"])
    for scene_id in made["scenes"]:
        completed(c, scene_id)
    assert generations(c) - before == 2
    return 1


def remix(c: Crash, i: int, source: str | None) -> int:
    before, key = generations(c), f"remix-{i}"
    body = {"prompt": f"the same at dusk #{i}"}
    ordered(c, f"/v1/videos/{source}/remix", body, key, before + 1)
    answer = same_work(c, f"/v1/videos/{source}/remix", body, key)
    assert answer["remixed_from_video_id"] == source
    completed(c, answer["id"])
    assert generations(c) - before == 1
    return 1


def extension(c: Crash, i: int, source: str | None) -> int:
    before, key = generations(c), f"extension-{i}"
    body = {"prompt": f"and then it rains #{i}", "video": {"id": source}, "seconds": "4"}
    ordered(c, "/v1/videos/extensions", body, key, before + 1)
    video = completed(c, same_work(c, "/v1/videos/extensions", body, key)["id"])
    assert video["seconds"] == "8"
    assert generations(c) - before == 1
    return 1


Kind = Callable[[Crash, int, str | None], int]
KINDS: dict[str, tuple[Kind, bool, int]] = {  # kind -> (one killed order, needs a source video, videos an order makes)
    "create_after_429": (after_a_429, False, 1),
    "create_30s": (thirty_seconds, False, 1),
    "batch": (batch, False, 3),
    "story": (story, False, 3),  # the film and its two scenes
    "remix": (remix, True, 1),
    "extension": (extension, True, 1),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_kills_at_the_worst_moment(kind: str, tmp_path: Path) -> None:
    # openai-2026-03: 30 s made as 12 + 20, extensions; the source's content kept for the whole run
    c = Crash(tmp_path, STORE, "--content-ttl", "1000000", profile="openai-2026-03")
    try:
        one, needs_source, videos = KINDS[kind]
        source = None
        if needs_source:
            made = c.post("/v1/videos", {"prompt": "the source", "seconds": "4"})
            assert made.status_code == 200, made.text
            source = completed(c, made.json()["id"])["id"]
        start, kills, orders = generations(c), 0, 0
        while kills < KILLS:
            kills += one(c, orders, source)
            orders += 1
        paid = generations(c) - start
        listed = c.get("/v1/videos?limit=100").json()["data"]
        assert len(listed) == orders * videos + (1 if source else 0), "a video lost or made twice"
        print(f"crash campaign {kind}: kills={kills} orders={orders} generations paid={paid} videos={len(listed)}")
    finally:
        c.stop()
