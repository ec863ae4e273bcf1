"""Crash campaign: SIGKILL the gateway again and again; every job completes, no generation is paid twice.

The simulator ignores ``Idempotency-Key`` (as the real /videos API may), holds some create-like
answers after the generation started (``late``) and answers 5 % of calls with a 5xx. Meanwhile a
killer thread SIGKILLs the gateway every few seconds and starts it again on the same port and
SQLite store. The client (official SDK for reads, plain HTTP for creates) never knows whether a
create it lost reached the gateway: it finds it again by its unique prompt before re-sending.

Jobs: 8 plain creates (4/8/12 s), 4 segmented creates of 30 s (12 s + a 20 s extension upstream,
openai-2026-03), then 4 remixes and 4 extensions of the finished plain ones: 20 jobs that need
8 + 4 x 2 + 4 + 4 = 24 upstream generations, counted exactly on the simulator.

The campaign's key case runs on every profile of the catalog (``test_a_kill_with_creates_in_flight_on_every_profile``):
SIGKILL while one job runs upstream and another's create is held by the provider after it made the task; after the
restart each generation is made once, the lost create adopted from the provider's listing where it has one, else
failed ``upstream_outcome_unknown`` (never sent twice).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from gateway.media.probe import probe_video
from gateway.providers import PROFILES
from tests.conftest import FAST_CONFIG, KEYS, Gateway, sim_stats, start_gateway
from tests.procs import Proc, free_port, start_simulator, wait_for
from tests.profiles import ALL_PROFILES, lists, start_profile_gateway, start_profile_simulator

AUTH = {"Authorization": f"Bearer {KEYS['acme']}"}
MIN_KILLS = 5
CAMPAIGN_S = 240.0  # generous: a loaded 2-core machine restarts the gateway slowly


class Target(Protocol):
    """Where the client's calls go (a :class:`Campaign` or a :class:`Gateway`)."""

    @property
    def url(self) -> str: ...


class Campaign:
    """The gateway process under fire: ``kill_and_restart`` from the killer, ``url`` for the client."""

    def __init__(self, sim: Any, tmp: Path) -> None:
        self.sim, self.tmp = sim, tmp
        self.port = free_port()
        self.store = f"sqlite:///{tmp / 'gw.db'}"
        self.config = FAST_CONFIG + "upstream_profile: openai-2026-03\n"
        self.gw: Gateway = self._start()
        self.kills = 0
        self.lock = threading.Lock()

    def _start(self) -> Gateway:
        return start_gateway(self.sim, self.tmp / "gw", self.store, config=self.config, port=self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill_and_restart(self) -> None:
        with self.lock:
            self.gw.proc.kill()
            self.kills += 1
            self.gw = self._start()

    def stop(self) -> None:
        with self.lock:
            self.gw.proc.stop()


def retrying(what: str, fn: Callable[[], httpx.Response], deadline: float) -> httpx.Response:
    """``fn`` until the gateway answers something other than a dead connection or a 5xx."""
    while True:
        try:
            response = fn()
            if response.status_code < 500:
                return response
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"gave up on {what}"
        time.sleep(0.2)


def find_by_prompt(c: Target, prompt: str, deadline: float) -> str | None:
    listed = retrying("list", lambda: httpx.get(c.url + "/v1/videos?limit=100", headers=AUTH, timeout=10), deadline)
    found = [v["id"] for v in listed.json()["data"] if v.get("prompt") == prompt]
    assert len(found) <= 1, f"two videos for one prompt {prompt!r}: {found}"
    return found[0] if found else None


def create(c: Campaign, path: str, body: dict[str, Any], deadline: float) -> str:
    """One create-like call that may die with the gateway; found again by its prompt, else re-sent."""
    while True:
        try:
            response = httpx.post(c.url + path, json=body, headers=AUTH, timeout=60)
            if response.status_code < 500:
                assert response.status_code == 200, response.text
                return str(response.json()["id"])
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
        found = find_by_prompt(c, body["prompt"], deadline)  # did the gateway keep it before it died?
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"gave up creating {body['prompt']!r}"


def wait_done(c: Target, ids: list[str], deadline: float) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids):
        for vid in ids:
            if vid in done:
                continue
            got = retrying(
                "retrieve", lambda v=vid: httpx.get(c.url + f"/v1/videos/{v}", headers=AUTH, timeout=10), deadline
            )
            video = got.json()
            if video["status"] in ("completed", "failed"):
                done[vid] = video
        assert time.monotonic() < deadline, f"not finished: {sorted(set(ids) - set(done))}"
        time.sleep(0.3)
    return done


def measured_seconds(c: Target, vid: str, tmp: Path, deadline: float) -> float:
    got = retrying(
        "download", lambda: httpx.get(c.url + f"/v1/videos/{vid}/content", headers=AUTH, timeout=30), deadline
    )
    assert got.status_code == 200, got.text
    path = tmp / f"{vid}.mp4"
    path.write_bytes(got.content)
    return float(probe_video(str(path))["duration"])


def test_sigkill_campaign_pays_each_generation_once(tmp_path: Path) -> None:
    sim = start_simulator(
        "--ignore-idempotency",
        "--faults",
        "late=0.4,slow_s=1.5,5xx=0.05",
        "--seed",
        "9",
        "--content-ttl",
        "1000000",  # x time_scale: an hour of content life, so sources stay remixable
        profile="openai-2026-03",
        time_scale=0.003,
    )
    c = Campaign(sim, tmp_path)
    before = int(sim_stats(sim)["generations"])  # type: ignore[arg-type]
    stop = threading.Event()
    rng = random.Random(5)

    def killer() -> None:
        while not stop.is_set():
            if stop.wait(rng.uniform(2.0, 4.0)):
                return
            c.kill_and_restart()

    thread = threading.Thread(target=killer, daemon=True)
    deadline = time.monotonic() + CAMPAIGN_S
    try:
        thread.start()
        expected: dict[str, int] = {}  # video id -> seconds it must measure
        plain: list[tuple[str, int]] = []
        for i in range(8):
            seconds = (4, 8, 12)[i % 3]
            vid = create(c, "/v1/videos", {"prompt": f"campaign plain {i}", "seconds": str(seconds)}, deadline)
            plain.append((vid, seconds))
            expected[vid] = seconds
        for i in range(4):
            vid = create(c, "/v1/videos", {"prompt": f"campaign long {i}", "seconds": "30"}, deadline)
            expected[vid] = 30
        first = wait_done(c, [vid for vid, _ in plain], deadline)
        assert all(v["status"] == "completed" for v in first.values()), first
        for i, (source, seconds) in enumerate(plain[:4]):
            vid = create(c, f"/v1/videos/{source}/remix", {"prompt": f"campaign remix {i}"}, deadline)
            expected[vid] = seconds
        for i, (source, seconds) in enumerate(plain[4:]):
            body = {"prompt": f"campaign extension {i}", "video": {"id": source}, "seconds": "4"}
            vid = create(c, "/v1/videos/extensions", body, deadline)
            expected[vid] = seconds + 4
        while c.kills < MIN_KILLS:  # keep the killer going until it has struck often enough
            assert time.monotonic() < deadline, f"only {c.kills} kills"
            time.sleep(0.5)
        stop.set()
        thread.join(60)
        finished = wait_done(c, list(expected), deadline)
        failed = {vid: v.get("error") for vid, v in finished.items() if v["status"] != "completed"}
        assert not failed, failed
        for vid, seconds in expected.items():
            assert abs(measured_seconds(c, vid, tmp_path, deadline) - seconds) < 0.2, (vid, seconds)
        listed = find_all(c, deadline)
        assert sorted(listed) == sorted(expected), "a job was lost or duplicated"
        paid = int(sim_stats(sim)["generations"]) - before  # type: ignore[arg-type]
        needed = 8 + 4 * 2 + 4 + 4
        print(f"campaign: jobs={len(expected)} kills={c.kills} generations paid={paid} needed={needed}")
        assert c.kills >= MIN_KILLS
        assert paid == needed, f"paid {paid} upstream generations for {needed} needed ({c.kills} kills)"
    finally:
        stop.set()
        thread.join(60)
        c.stop()
        sim.stop()


def find_all(c: Target, deadline: float) -> list[str]:
    listed = retrying("list", lambda: httpx.get(c.url + "/v1/videos?limit=100", headers=AUTH, timeout=10), deadline)
    return [str(v["id"]) for v in listed.json()["data"]]


def set_faults(sim: Proc, faults: str) -> None:
    assert httpx.post(sim.url + "/_sim/faults", json={"faults": faults}, timeout=10).status_code == 200


def post_video(url: str, prompt: str, outcome: list[object]) -> None:
    try:
        outcome.append(
            httpx.post(url + "/v1/videos", json={"prompt": prompt, "seconds": "4"}, headers=AUTH, timeout=60)
        )
    except httpx.HTTPError as exc:  # the gateway dies under the request
        outcome.append(exc)


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_a_kill_with_creates_in_flight_on_every_profile(profile: str, tmp_path: Path) -> None:
    extra = ("--ignore-idempotency",) if PROFILES[profile].dialect == "openai" else ()  # adoption by listing only
    sim = start_profile_simulator(profile, *extra, time_scale=0.02)
    store = f"sqlite:///{tmp_path / 'gw.db'}"
    gw = start_profile_gateway(profile, sim, tmp_path / "gw", store)
    again: Gateway | None = None
    try:
        running = httpx.post(
            gw.url + "/v1/videos", json={"prompt": "running", "seconds": "4"}, headers=AUTH, timeout=60
        )
        assert running.status_code == 200, running.text
        set_faults(sim, "late=1.0,slow_s=5")  # the next create: the task is made, its answer held back
        outcome: list[object] = []
        thread = threading.Thread(target=post_video, args=(gw.url, "lost", outcome), daemon=True)
        thread.start()
        wait_for(lambda: sim_stats(sim)["jobs"] == 2, "the second create to reach the provider", timeout=60)
        gw.proc.kill()
        thread.join(30)
        assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome
        set_faults(sim, "")
        again = start_profile_gateway(profile, sim, tmp_path / "gw", store, port=gw.proc.port)
        deadline = time.monotonic() + 120
        c = again
        ids = {prompt: find_by_prompt(c, prompt, deadline) for prompt in ("running", "lost")}
        assert all(ids.values()), ids
        done = wait_done(c, [str(vid) for vid in ids.values()], deadline)
        first, lost = done[str(ids["running"])], done[str(ids["lost"])]
        assert first["status"] == "completed", first
        assert abs(measured_seconds(c, first["id"], tmp_path, deadline) - 4) < 0.2
        if lists(profile):  # found again in the provider's listing and adopted
            assert lost["status"] == "completed", lost
        else:  # it cannot be found again: failed rather than sent a second time
            assert lost["status"] == "failed" and lost["error"]["code"] == "upstream_outcome_unknown", lost
        stats = sim_stats(sim)
        assert (stats["jobs"], stats["generations"]) == (2, 2), stats  # each create sent once, each video made once
    finally:
        if again is not None:
            again.proc.stop()
        gw.proc.kill()
        sim.stop()
