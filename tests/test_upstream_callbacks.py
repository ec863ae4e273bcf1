"""Provider callbacks as the follow method (issue 19, item 2), end to end: a real gateway with ``public_base_url``
on its own address, each callback-capable provider's simulator (which POSTs the task at each change, MiniMax
after its challenge handshake), the official ``openai`` SDK.

``callback_safety_poll_s: 600``: a job can only end within the test by its callback, confirmed with one
status call; a forged callback is a 404, counted, and changes nothing (no status call, no state).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.core.models import Segment, SegStatus
from gateway.jobs.callbacks import apply_state, reading, running_state, safety_wait
from tests.conftest import FAST_CONFIG, Gateway, calls, sim_stats, store_url
from tests.procs import Proc, free_port, wait_for
from tests.profiles import start_profile_gateway, start_profile_simulator

STATUS_CALLS = {
    "ark-seedance": ("ark_get",),
    "minimax-hailuo": ("mm_query",),
    "luma-dream-machine": ("dm_get", "dm_list"),
    "kling": ("kling_query", "kling_list"),
}
SECONDS = {"ark-seedance": "4", "minimax-hailuo": "8", "luma-dream-machine": "4", "kling": "4"}


def callback_config(port: int) -> str:
    return FAST_CONFIG + f"public_base_url: http://127.0.0.1:{port}\ncallback_safety_poll_s: 600\n"


def status_calls(sim: Proc, profile: str) -> int:
    return sum(calls(sim, op) for op in STATUS_CALLS[profile])


def callbacks_counted(gw: Gateway) -> dict[str, float]:
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    found = re.findall(r'^sora_gateway_upstream_callbacks_total\{result="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return {result: float(value) for result, value in found}


def wait_done(gw: Gateway, video_id: str, timeout_s: float = 120) -> str:
    client = gw.client()
    states: list[str] = []

    def done() -> bool:
        states.append(client.videos.retrieve(video_id).status)
        return states[-1] in ("completed", "failed")

    wait_for(done, f"{video_id} to end", timeout_s)
    return states[-1]


@pytest.fixture(scope="module", params=list(STATUS_CALLS))
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Proc, Gateway]]:
    profile = str(request.param)
    sim = start_profile_simulator(profile, time_scale=0.03)  # a few seconds a task
    port = free_port()
    tmp: Path = tmp_path_factory.mktemp(profile)
    gw = start_profile_gateway(profile, sim, tmp, "memory://", port=port, config=callback_config(port))
    yield profile, sim, gw
    gw.proc.stop()
    sim.stop()


def test_jobs_end_by_their_callbacks_with_one_status_call_each(stack: tuple[str, Proc, Gateway]) -> None:
    profile, sim, gw = stack
    before, counted = status_calls(sim, profile), callbacks_counted(gw)
    client = gw.client()
    ids = [
        client.videos.create(prompt=f"a lighthouse at dusk, take {n}", seconds=SECONDS[profile], size="1280x720").id  # type: ignore[arg-type]
        for n in range(3)
    ]
    assert [wait_done(gw, video_id) for video_id in ids] == ["completed"] * 3
    for video_id in ids:
        assert client.videos.download_content(video_id).read()[4:8] == b"ftyp"
        assert "token" not in gw.http().get(f"/v1/videos/{video_id}").text  # the job's secret is never shown
    # the simulator called the gateway back (MiniMax: after the gateway echoed its challenge)
    assert dict(sim_stats(sim)["callbacks"])["delivered"] >= 3  # type: ignore[arg-type]
    now = callbacks_counted(gw)
    assert now.get("end", 0) - counted.get("end", 0) >= 3
    if profile == "minimax-hailuo":
        assert now.get("handshake", 0) - counted.get("handshake", 0) >= 3
    # each job's end confirmed by one status call (a content fetch may read the task once more for its URL);
    # polled as before (about every second), a job of a few seconds costs several

    assert status_calls(sim, profile) - before <= 2 * len(ids)


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_profile_simulator("ark-seedance", time_scale=1.0)  # minutes a task: in flight for the whole test
    port = free_port()
    gw = start_profile_gateway(
        "ark-seedance", sim, tmp_path_factory.mktemp("slow"), "memory://", port=port, config=callback_config(port)
    )
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def test_a_forged_callback_is_refused_counted_and_changes_nothing(slow_stack: tuple[Proc, Gateway]) -> None:
    sim, gw = slow_stack
    client = gw.client()
    video = client.videos.create(prompt="a kite over dunes", seconds="4", size="1280x720")  # type: ignore[arg-type]
    wait_for(lambda: dict(sim_stats(sim)["callbacks"])["delivered"] >= 1, "the task's first callback", 60)
    before, refused = calls(sim, "ark_get"), callbacks_counted(gw).get("refused", 0)
    ended = {"id": "cgt-x", "status": "succeeded", "content": {"video_url": "https://evil.example/v.mp4"}}
    base = gw.url + "/v1/gateway/upstream-callbacks"
    forged = [
        f"{base}/{video.id}/0/not-the-token",
        f"{base}/{video.id}/0/" + "A" * 32,
        f"{base}/video_doesnotexist/0/not-the-token",
        f"{base}/{video.id}/7/not-the-token",
        f"{base}/{video.id}/x/not-the-token",
    ]
    for url in forged:
        answer = httpx.post(url, json=ended, timeout=10)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert callbacks_counted(gw)["refused"] - refused == len(forged)
    time.sleep(1.0)  # the driver ticks every 0.05 s: room for any (wrong) reaction to show
    assert calls(sim, "ark_get") == before  # no status call made for a forged hint
    assert client.videos.retrieve(video.id).status in ("queued", "in_progress")
    client.videos.delete(video.id)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"id": "cgt-1", "status": "running"}, "alive"),  # Ark
        ({"id": "cgt-1", "status": "succeeded", "content": {"video_url": "u"}}, "end"),
        ({"task_id": "1", "status": "Processing", "base_resp": {"status_code": 0}}, "alive"),  # MiniMax v1
        ({"task_id": "1", "status": "Success", "file_id": "f"}, "end"),
        ({"task": {"id": "1", "status": "queued"}}, "alive"),  # MiniMax H3 (v2)
        ({"task": {"id": "1", "status": "failed"}}, "end"),
        ({"id": "g", "state": "dreaming"}, "alive"),  # Luma Dream Machine
        ({"id": "g", "state": "completed"}, "end"),
        ({"task_id": "7", "task_status": "submitted"}, "alive"),  # Kling
        ({"task_id": "7", "task_status": "succeed"}, "end"),
        (None, "end"),  # not JSON, or nothing readable: a status call tells
        ({"status": 3}, "end"),
        ("running", "end"),
    ],
)
def test_a_callback_reads_as_ended_unless_it_names_a_running_status(body: object, kind: str) -> None:
    assert reading(body) == kind


def test_safety_polls_of_jobs_made_together_are_spread() -> None:
    waits = [safety_wait(60.0) for _ in range(200)]
    assert all(60.0 <= w <= 72.0 for w in waits) and max(waits) - min(waits) > 5


def test_a_callback_to_another_replica_ends_the_job_through_the_store(tmp_path: Path) -> None:
    """Two replicas on one Redis: jobs are created (and driven) on ``one``; the provider calls back ``two``
    (its ``public_base_url``), which leaves the hint in the store for ``one`` to confirm."""
    sim = start_profile_simulator("ark-seedance", time_scale=0.03)
    store = store_url("redis", tmp_path)
    port_two = free_port()
    config = callback_config(port_two)  # both hand out two's address
    one = start_profile_gateway("ark-seedance", sim, tmp_path / "one", store, config=config)
    two = start_profile_gateway("ark-seedance", sim, tmp_path / "two", store, port=port_two, config=config)
    try:
        client = one.client()
        ids = [client.videos.create(prompt=f"a shared kite {n}", seconds="4", size="1280x720").id for n in range(2)]  # type: ignore[arg-type]
        assert [wait_done(one, video_id) for video_id in ids] == ["completed"] * 2
        assert callbacks_counted(two).get("end", 0) >= 2 and callbacks_counted(one).get("end", 0) == 0
        assert calls(sim, "ark_get") <= 2 * len(ids)  # confirmed once each, by whichever replica held the job
    finally:
        one.proc.stop()
        two.proc.stop()
        sim.stop()


def test_a_job_whose_callbacks_never_arrive_ends_by_the_safety_poll(tmp_path: Path) -> None:
    """``public_base_url`` names a port nobody listens on: the provider's callbacks are lost, and the safety
    poll (every 1.5 s here) still ends the job."""
    sim = start_profile_simulator("ark-seedance", time_scale=0.03)
    config = FAST_CONFIG + f"public_base_url: http://127.0.0.1:{free_port()}\ncallback_safety_poll_s: 1.5\n"
    gw = start_profile_gateway("ark-seedance", sim, tmp_path, "memory://", config=config)
    try:
        client = gw.client()
        video = client.videos.create(prompt="a lost callback", seconds="4", size="1280x720")  # type: ignore[arg-type]
        assert wait_done(gw, video.id) == "completed"
        assert dict(sim_stats(sim)["callbacks"])["failed"] >= 1  # type: ignore[arg-type]
        assert not callbacks_counted(gw)
    finally:
        gw.proc.stop()
        sim.stop()


def test_a_running_callback_moves_the_video_to_in_progress_without_a_status_call(
    slow_stack: tuple[Proc, Gateway],
) -> None:
    """Ark's task is queued for 10 s, then runs for minutes; polls are 600 s apart: only its "running" callback
    can move the client's video from ``queued`` to ``in_progress``, and it does so with no status call."""
    sim, gw = slow_stack
    client = gw.client()
    video = client.videos.create(prompt="a heron over a lake", seconds="4", size="1280x720")  # type: ignore[arg-type]
    before, alive = calls(sim, "ark_get"), callbacks_counted(gw).get("alive", 0)
    assert client.videos.retrieve(video.id).status == "queued"
    wait_for(lambda: client.videos.retrieve(video.id).status == "in_progress", "the running callback to show", 90)
    assert callbacks_counted(gw).get("alive", 0) > alive
    assert calls(sim, "ark_get") == before  # moved by the callback alone
    client.videos.delete(video.id)


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ({"id": "cgt-1", "status": "running"}, "in_progress"),  # Ark
        ({"id": "cgt-1", "status": "queued"}, "queued"),
        ({"task_id": "1", "status": "Processing", "base_resp": {"status_code": 0}}, "in_progress"),  # MiniMax
        ({"task": {"id": "1", "status": "queued"}}, "queued"),  # MiniMax v2
        ({"id": "g", "state": "dreaming"}, "in_progress"),  # Luma Dream Machine
        ({"data": {"task_id": "7", "task_status": "processing", "task_progress": 42}}, "in_progress:42"),
        ({"status": "running", "progress": 0.25}, "in_progress:25"),  # a fraction
        ({"status": "running", "progress": "60%"}, "in_progress:60"),
        ({"status": "running", "progress": 100}, "in_progress:99"),  # only the confirmed end is 100
        ({"status": "running", "progress": 250}, "in_progress"),  # nonsense is ignored
        ({"status": "pending", "progress": 10}, "in_progress:10"),  # progress made: it has started
        ({"status": "succeeded"}, None),
        (None, None),
    ],
)
def test_a_running_callback_reads_as_the_state_the_client_sees(body: object, state: str | None) -> None:
    assert running_state(body) == state


def test_a_callback_state_only_moves_a_segment_forward() -> None:
    seg = Segment(index=0, prompt="p", seconds=4, status=SegStatus.QUEUED)
    assert apply_state(seg, "in_progress:30") and (seg.status, seg.progress) == (SegStatus.IN_PROGRESS, 30)
    assert not apply_state(seg, "queued") and seg.status == SegStatus.IN_PROGRESS  # a late "queued"
    assert not apply_state(seg, "in_progress:10") and seg.progress == 30  # progress never goes down
    assert apply_state(seg, "in_progress:55") and seg.progress == 55
    seg.status = SegStatus.COMPLETED
    assert not apply_state(seg, "in_progress:70") and seg.status == SegStatus.COMPLETED
