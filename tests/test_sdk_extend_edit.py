"""``client.videos.extend`` / ``client.videos.edit`` from the official SDK, which sends ``video`` as a file.

A file whose sha256 is one of the team's retained gateway videos is read as a reference to that video
(the upstream extends its own video, nothing is uploaded, ``adapted`` says ``video=file->video_…``);
any other file is forwarded upstream as the multipart ``video`` part. ``video={"id": …}`` arrives as the
form field ``video[id]`` (the SDK itself only sends files for ``video``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.media.probe import probe_duration
from gateway.media.render import Segment as Clip
from gateway.media.render import render_video
from tests.conftest import Gateway, calls, start_gateway
from tests.procs import Proc

POLL = {"poll_interval_ms": 100}


@pytest.fixture(scope="module")
def gw(simulator_2026: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(simulator_2026, tmp_path_factory.mktemp("sdk-extend"), "memory://")
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="module")
def source(gw: Gateway) -> tuple[str, bytes]:
    """A completed 4 s gateway video of acme, and its bytes as the client downloaded them."""
    client = gw.client()
    video = client.videos.create_and_poll(prompt="a kite over a beach", seconds="4", **POLL)
    assert video.status == "completed"
    return video.id, client.videos.download_content(video.id).content


def duration(gw: Gateway, video_id: str, tmp_path: Path) -> float:
    path = tmp_path / f"{video_id}.mp4"
    path.write_bytes(gw.client().videos.download_content(video_id).content)
    return probe_duration(path)


def foreign_video(tmp_path: Path, seconds: int = 5) -> bytes:
    path = tmp_path / "foreign.mp4"
    render_video(path, [Clip("a video the upstream never made", seconds)], 128, 72)
    return path.read_bytes()


def test_sdk_extend_with_the_bytes_of_a_gateway_video_extends_that_video(
    gw: Gateway, source: tuple[str, bytes], tmp_path: Path
) -> None:
    source_id, mp4 = source
    client = gw.client()
    created = client.videos.extend(video=("clip.mp4", mp4, "video/mp4"), prompt="the kite climbs", seconds="8")
    assert created.status in ("queued", "in_progress")
    assert f"video=file->{source_id}" in (created.model_extra or {}).get("adapted", [])
    done = client.videos.poll(created.id, **POLL)
    assert done.status == "completed" and done.seconds == "12"
    assert abs(duration(gw, done.id, tmp_path) - 12) < 0.2


def test_sdk_edit_with_the_bytes_of_a_gateway_video_edits_that_video(
    gw: Gateway, source: tuple[str, bytes], tmp_path: Path
) -> None:
    source_id, mp4 = source
    client = gw.client()
    created = client.videos.edit(video=mp4, prompt="make the kite red")
    assert f"video=file->{source_id}" in (created.model_extra or {}).get("adapted", [])
    done = client.videos.poll(created.id, **POLL)
    assert done.status == "completed" and done.seconds == "4"
    assert abs(duration(gw, done.id, tmp_path) - 4) < 0.2


def test_extend_and_edit_by_id_as_form_fields(gw: Gateway, source: tuple[str, bytes]) -> None:
    """``video[id]=…`` in a form (how SDKs flatten an object) names a gateway video."""
    source_id, _ = source
    client = gw.client()
    with gw.http() as http:
        extend = http.post(
            "/v1/videos/extensions",
            data={"video[id]": source_id, "prompt": "and lands", "seconds": "4"},
        )
        edit = http.post("/v1/videos/edits", data={"video[id]": source_id, "prompt": "at night"})
    assert extend.status_code == 200, extend.text
    assert edit.status_code == 200, edit.text
    extended = client.videos.poll(extend.json()["id"], **POLL)
    assert extended.status == "completed" and extended.seconds == "8"
    edited = client.videos.poll(edit.json()["id"], **POLL)
    assert edited.status == "completed" and edited.seconds == "4"


def test_sdk_extend_of_a_foreign_file_forwards_the_file(gw: Gateway, simulator_2026: Proc, tmp_path: Path) -> None:
    client = gw.client()
    before = calls(simulator_2026, "extend")
    created = client.videos.extend(
        video=("mine.mp4", foreign_video(tmp_path), "video/mp4"), prompt="go on", seconds="4"
    )
    assert not any(a.startswith("video=file->") for a in (created.model_extra or {}).get("adapted", []))
    assert calls(simulator_2026, "extend") == before + 1
    done = client.videos.poll(created.id, **POLL)
    assert done.status == "completed", done.error
    assert done.seconds == "9" and done.size == "1280x720"  # 5 s uploaded + 4 s generated; landscape
    assert abs(duration(gw, done.id, tmp_path) - 9) < 0.2


def test_sdk_edit_of_a_foreign_file_forwards_the_file(gw: Gateway, tmp_path: Path) -> None:
    client = gw.client()
    created = client.videos.edit(video=("mine.mp4", foreign_video(tmp_path, 6), "video/mp4"), prompt="in sepia")
    done = client.videos.poll(created.id, **POLL)
    assert done.status == "completed", done.error
    assert done.seconds == "6"
    assert abs(duration(gw, done.id, tmp_path) - 6) < 0.2


def test_another_team_uploading_the_same_bytes_is_not_given_the_video(gw: Gateway, source: tuple[str, bytes]) -> None:
    _, mp4 = source
    created = gw.client("globex").videos.extend(video=("x.mp4", mp4, "video/mp4"), prompt="again", seconds="4")
    assert not any(a.startswith("video=file->") for a in (created.model_extra or {}).get("adapted", []))
    done = gw.client("globex").videos.poll(created.id, **POLL)
    assert done.status == "completed" and done.seconds == "8"


def test_a_file_that_is_not_a_video_is_a_400_naming_video(gw: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        gw.client().videos.extend(video=("notes.txt", b"not a video", "text/plain"), prompt="x", seconds="4")
    assert refused.value.body["param"] == "video"  # type: ignore[index]
