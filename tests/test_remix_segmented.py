"""A remix of a video the gateway made in segments is remixed whole and charged for all of it (issue 21, item 5).

Real simulator and gateway processes (``stacks``), the official SDK; the MP4s are measured with PyAV and the
remixes the upstream made are read back from the simulator's listing (by the gateway's upstream key).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from gateway.media.probe import probe_duration
from tests.conftest import UPSTREAM_KEY, Stack
from tests.procs import Proc

O25, O26 = "openai-2025-10", "openai-2026-03"


def upstream_video(sim: Proc, upstream_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}, timeout=10) as http:
        return dict(http.get(f"/v1/videos/{upstream_id}").json())


def remixes_of(sim: Proc, known: set[str]) -> list[dict[str, Any]]:
    """The remixes the upstream made since ``known`` (ids seen before), oldest first."""
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}, timeout=10) as http:
        listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    return [v for v in reversed(listed) if v["id"] not in known and v.get("remixed_from_video_id")]


def listed_ids(sim: Proc) -> set[str]:
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}, timeout=10) as http:
        return {str(v["id"]) for v in http.get("/v1/videos", params={"limit": 100}).json()["data"]}


def made(client: OpenAI, **create: Any) -> dict[str, Any]:
    video = client.videos.create_and_poll(**create, poll_interval_ms=100)
    assert video.status == "completed", video.error
    return video.to_dict()


def remix(client: OpenAI, video_id: str, prompt: str) -> tuple[dict[str, Any], list[str]]:
    raw = client.videos.with_raw_response.remix(video_id, prompt=prompt)
    header = raw.headers.get("x-sora-gateway-adapted", "")
    done = client.videos.poll(raw.parse().id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    return done.to_dict(), header.split("; ") if header else []


def measured(client: OpenAI, video_id: str, path: Path) -> float:
    client.videos.download_content(video_id).write_to_file(path)
    return probe_duration(path)


@pytest.mark.parametrize(
    ("profile", "note", "lengths"),
    [
        (O26, "remix->32(whole extended video,trimmed to 30)", ["32"]),  # 12 + 20 s extension: one remix of 32 s
        (O25, "remix->12+12+8(each part,stitched,trimmed to 30)", ["12", "12", "8"]),  # a remix of each part
    ],
)
def test_a_thirty_second_video_made_in_segments_is_remixed_whole(
    profile: str, note: str, lengths: list[str], stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    sim, gw = stacks(profile)
    client = gw.client()
    source = made(client, prompt="a sailboat crossing a bay", seconds="30")
    assert source["cost_usd"] > 0
    known = listed_ids(sim)
    video, adapted = remix(client, source["id"], "the same bay in a snowstorm")
    assert note in adapted and video["adapted"] == adapted  # said in the header and on the video
    assert video["remixed_from_video_id"] == source["id"] and video["seconds"] == "30"
    assert video["cost_usd"] == pytest.approx(source["cost_usd"])  # every generated second, as the source
    upstream = remixes_of(sim, known)
    assert [v["seconds"] for v in upstream] == lengths  # what the upstream made is what was charged
    assert measured(client, video["id"], tmp_path / "remix.mp4") == pytest.approx(30.0, abs=0.05)


def test_a_remix_of_an_extension_is_charged_for_the_whole_video(stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    sim, gw = stacks(O26)
    client = gw.client()
    source = made(client, prompt="a kite on a beach", seconds="12")
    with gw.http() as http:
        answer = http.post("/v1/videos/extensions", data={"video[id]": source["id"], "prompt": "up", "seconds": "8"})
    assert answer.status_code == 200, answer.text
    extended = client.videos.poll(answer.json()["id"], poll_interval_ms=100)
    assert extended.status == "completed" and extended.seconds == "20"
    known = listed_ids(sim)
    video, adapted = remix(client, extended.id, "the kite at sunset")
    assert "remix->20(whole extended video)" in adapted
    assert video["cost_usd"] == pytest.approx(source["cost_usd"] * 20 / 12)  # 20 s made, 20 s charged
    assert [v["seconds"] for v in remixes_of(sim, known)] == ["20"]
    assert measured(client, video["id"], tmp_path / "remix.mp4") == pytest.approx(20.0, abs=0.05)


def test_a_remix_of_a_story_is_cut_as_its_scenes_were(stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    """A story's film on openai-2025-10: a 5 s scene made at 8 s and cut back, then 4 s; its remix is cut the same."""
    sim, gw = stacks(O25)
    client = gw.client()
    scenes = [{"prompt": "a fox", "seconds": 5}, {"prompt": "it naps", "seconds": 4}]
    with gw.http() as http:
        answer = http.post("/v1/gateway/stories", json={"scenes": scenes})
    assert answer.status_code == 200, answer.text
    story = client.videos.poll(answer.json()["id"], poll_interval_ms=100).to_dict()
    assert story["status"] == "completed" and story["seconds"] == "9"
    known = listed_ids(sim)
    video, adapted = remix(client, story["id"], "the same, in autumn")
    assert "remix->8+4(each part,stitched,trimmed to 9)" in adapted
    assert video["cost_usd"] == pytest.approx(story["cost_usd"])
    assert [v["seconds"] for v in remixes_of(sim, known)] == ["8", "4"]
    assert measured(client, video["id"], tmp_path / "remix.mp4") == pytest.approx(9.0, abs=0.05)


def test_an_edit_of_a_trimmed_video_is_charged_for_what_the_upstream_edits(
    stacks: Callable[[str], Stack], tmp_path: Path
) -> None:
    """10 s on openai-2026-03 is made at 12 s and trimmed: the upstream edits its 12 s video, 12 s are charged."""
    sim, gw = stacks(O26)
    client = gw.client()
    source = made(client, prompt="a heron in the reeds", seconds="10")
    assert source["seconds"] == "10"
    known = listed_ids(sim)
    with gw.http() as http:
        answer = http.post("/v1/videos/edits", data={"video[id]": source["id"], "prompt": "the heron in the rain"})
    assert answer.status_code == 200, answer.text
    assert "edit->12(whole upstream video,trimmed to 10)" in answer.headers["x-sora-gateway-adapted"].split("; ")
    edited = client.videos.poll(answer.json()["id"], poll_interval_ms=100).to_dict()
    assert edited["status"] == "completed" and edited["seconds"] == "10", edited
    assert edited["cost_usd"] == pytest.approx(source["cost_usd"])  # 12 s made upstream, 12 s charged
    made_now = [upstream_video(sim, vid) for vid in listed_ids(sim) - known]
    assert [v["seconds"] for v in made_now] == ["12"]
    assert measured(client, edited["id"], tmp_path / "edit.mp4") == pytest.approx(10.0, abs=0.05)
