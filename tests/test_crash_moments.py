"""SIGKILL at the exact worst moments (issue 21): nothing paid twice, nothing lost.

Each test holds one create's answer with the simulator's ``late`` fault (the upstream made the generation,
the gateway has not heard), SIGKILLs the gateway then, starts it again on the same store and checks the
simulator's count of generations: every order made exactly once upstream. The simulator ignores
``Idempotency-Key`` (as the real /videos API may), so only the gateway's own records keep it from paying twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.media.probe import probe_duration
from tests.conftest import FAST_CONFIG, KEYS, Gateway, sim_stats, start_gateway, store_url
from tests.procs import start_simulator, wait_for

AUTH = {"Authorization": f"Bearer {KEYS['acme']}"}
HOLD = "late=1.0,slow_s=10"  # the next create: the generation is made, its answer held back
WAIT_S = 120.0


class Crash:
    """A simulator and a gateway on one store, which the test kills and starts again."""

    def __init__(self, tmp: Path, kind: str, *sim_args: str, profile: str = "openai-2025-10") -> None:
        self.tmp = tmp
        self.sim = start_simulator("--ignore-idempotency", *sim_args, profile=profile, time_scale=0.02)
        self.store = store_url(kind, tmp)
        self.config = FAST_CONFIG + f"upstream_profile: {profile}\n"
        self.gw: Gateway = start_gateway(self.sim, tmp / "gw", self.store, config=self.config)
        self.port = self.gw.proc.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def faults(self, spec: str) -> None:
        assert httpx.post(self.sim.url + "/_sim/faults", json={"faults": spec}, timeout=10).status_code == 200

    def stats(self) -> dict[str, Any]:
        return sim_stats(self.sim)

    def kill_when_made(self, generations: int) -> None:
        """SIGKILL the gateway once the simulator has made ``generations`` (the last one's answer held)."""
        wait_for(lambda: self.stats()["generations"] >= generations, f"{generations} generations", timeout=WAIT_S)
        self.gw.proc.kill()
        self.faults("")
        self.gw = start_gateway(self.sim, self.tmp / "gw", self.store, config=self.config, port=self.port)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=AUTH, timeout=30)

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={**AUTH, **(headers or {})}, timeout=60)

    def post_in_background(self, path: str, body: dict[str, Any], **kw: Any) -> list[object]:
        """POST in a thread (the gateway may die under it): the response or the error lands in the list."""
        outcome: list[object] = []

        def run() -> None:
            try:
                outcome.append(self.post(path, body, **kw))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        threading.Thread(target=run, daemon=True).start()
        return outcome

    def wait_done(self, video_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while True:
            got = self.get(f"/v1/videos/{video_id}")
            assert got.status_code == 200, got.text
            if got.json()["status"] in ("completed", "failed"):
                return dict(got.json())
            assert time.monotonic() < deadline, f"{video_id} not finished: {got.json()}"
            time.sleep(0.2)

    def stop(self) -> None:
        self.gw.proc.stop()
        self.sim.stop()


def died(outcome: list[object]) -> bool:
    """The request sent in the background ended with the gateway's death (no answer)."""
    wait_for(lambda: bool(outcome), "the request to end", timeout=WAIT_S)
    return isinstance(outcome[0], httpx.HTTPError)


@pytest.fixture(params=["sqlite", "redis"])
def crash(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    c = Crash(tmp_path, request.param)
    yield c
    c.stop()


def test_killed_during_the_create_after_a_429_pays_once(crash: Crash) -> None:
    crash.faults("429=1.0")  # every create refused: surely nothing made, the job keeps trying
    created = crash.post("/v1/videos", {"prompt": "after a 429", "seconds": "4"})
    assert created.status_code == 200, created.text
    wait_for(lambda: crash.stats()["faults"]["429"] >= 2, "the create refused twice", timeout=WAIT_S)
    crash.faults(HOLD)  # the next re-send makes the generation and its answer is held
    crash.kill_when_made(1)
    video = crash.wait_done(created.json()["id"])
    assert video["status"] == "completed", video
    stats = crash.stats()
    assert stats["generations"] == 1, stats  # adopted from the listing, never sent blind a second time


def test_story_killed_during_its_first_create_keeps_its_scenes(crash: Crash) -> None:
    crash.faults(HOLD)
    body = {"scenes": [{"prompt": "a fox wakes", "seconds": 4}, {"prompt": "the fox runs", "seconds": 4}]}
    key = {"Idempotency-Key": "story-order-3"}
    outcome = crash.post_in_background("/v1/gateway/stories", body, headers=key)
    crash.kill_when_made(1)  # the first scene's create made upstream, its answer held: killed there
    assert died(outcome), outcome
    listed = crash.get("/v1/videos?limit=100").json()["data"]
    story = next(v for v in listed if v.get("scenes"))
    again = crash.post("/v1/gateway/stories", body, headers=key)  # the same key: the same story, nothing new
    assert again.status_code == 200 and again.json()["id"] == story["id"], again.text
    scene_ids = story["scenes"]
    assert len(scene_ids) == 2
    for scene_id in scene_ids:  # readable while the story runs: the records exist from the start
        assert crash.get(f"/v1/videos/{scene_id}").status_code == 200
    assert crash.wait_done(story["id"])["status"] == "completed"
    for scene_id in scene_ids:
        assert crash.wait_done(scene_id)["status"] == "completed"
    stats = crash.stats()
    assert stats["generations"] == 2, stats  # one per scene: the lost first create adopted, not re-made


def test_batch_killed_mid_creation_is_completed_after_the_restart(crash: Crash) -> None:
    crash.faults(HOLD)
    body, key = {"prompt": "a kite", "n": 3, "seconds": "4"}, {"Idempotency-Key": "batch-order-7"}
    outcome = crash.post_in_background("/v1/gateway/batches", body, headers=key)
    crash.kill_when_made(1)  # the first variation made upstream, its answer held: killed there
    assert died(outcome), outcome
    listed = crash.get("/v1/gateway/batches")
    assert listed.status_code == 200, listed.text
    (batch,) = listed.json()["data"]
    assert batch["n"] == 3 and len(batch["videos"]) == 3, batch
    again = crash.post("/v1/gateway/batches", body, headers=key)  # the same key: the same batch, nothing new
    assert again.status_code == 200 and again.json()["id"] == batch["id"], again.text
    deadline = time.monotonic() + WAIT_S
    while batch["status"] == "in_progress":
        assert time.monotonic() < deadline, batch
        time.sleep(0.3)
        got = crash.get(f"/v1/gateway/batches/{batch['id']}")
        assert got.status_code == 200, got.text
        batch = got.json()
    assert batch["status"] == "completed", batch
    assert len({v["id"] for v in batch["videos"]}) == 3, batch
    stats = crash.stats()
    assert stats["generations"] == 3, stats  # each variation made once: the lost one adopted, the rest made


def test_same_key_after_a_crash_answers_the_same_video(crash: Crash) -> None:
    crash.faults(HOLD)
    body, key = {"prompt": "order 42", "seconds": "4"}, {"Idempotency-Key": "order-42"}
    outcome = crash.post_in_background("/v1/videos", body, headers=key)
    crash.kill_when_made(1)  # the create made upstream, its answer held: the first request died with the gateway
    assert died(outcome), outcome
    retry = crash.post("/v1/videos", body, headers=key)  # the first holder's lease expires: the retry takes over
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    video_id = retry.json()["id"]
    assert [v["id"] for v in crash.get("/v1/videos").json()["data"]] == [video_id]
    assert crash.wait_done(video_id)["status"] == "completed"
    again = crash.post("/v1/videos", body, headers=key)
    assert again.status_code == 200 and again.json()["id"] == video_id, again.text
    stats = crash.stats()
    assert stats["generations"] == 1, stats


def test_generate_with_the_same_key_resumes_after_a_crash(tmp_path: Path) -> None:
    crash = Crash(tmp_path, "sqlite")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
        "OPENAI_BASE_URL": crash.url + "/v1",
        "OPENAI_API_KEY": KEYS["acme"],
    }
    gen = [sys.executable, "-m", "gateway", "generate", "a resumed kite", "--seconds", "4", "-o", "kite.mp4"]
    gen += ["--idempotency-key", "kite-1"]
    try:
        crash.faults(HOLD)
        first = subprocess.Popen(gen, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        crash.kill_when_made(1)
        _, err = first.communicate(timeout=WAIT_S)
        assert first.returncode != 0, err  # the gateway died under it
        done = subprocess.run(gen, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_S * 2)
        assert done.returncode == 0, done.stderr
        assert abs(probe_duration(tmp_path / "kite.mp4") - 4.0) < 0.15
        stats = crash.stats()
        assert stats["generations"] == 1, stats
    finally:
        crash.stop()
