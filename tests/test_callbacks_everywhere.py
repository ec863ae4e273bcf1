"""Callbacks wherever a video is made, in the client's own shape.

- Issue 22, item 10: a seed-dialect create's ``callback_url`` (and the team's webhook) receives ``data`` in the
  seed shape (``object: video.generation``, ``data[0].url``, ``metadata.duration_ms``), as its client's own
  ``GET /v1/video/generations/{id}`` returns it; a ``/v1/videos`` create's receives the video object.
- Issue 21, item 13b: ``callback_url`` on ``POST /v1/videos/extensions`` and ``/v1/videos/edits`` (JSON and
  forms) announces the new video's end like a create's; a bad one is refused before anything is made.

A real gateway on the ``openai-2026-03`` simulator (it extends and edits) and a receiver on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FAST_CONFIG, Gateway, calls, start_gateway
from tests.procs import Proc, wait_for
from tests.receiver import Receiver

CONFIG = FAST_CONFIG + "callback_allow_nets: 127.0.0.0/8\npublic_base_url: https://videos.example.test\n"
POLL = {"poll_interval_ms": 100}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hooks = Receiver().start()
    yield hooks
    hooks.stop()


@pytest.fixture(scope="module")
def gw(simulator_2026: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(simulator_2026, tmp_path_factory.mktemp("callbacks"), "memory://", config=CONFIG)
    yield gateway
    gateway.proc.stop()


def delivered(receiver: Receiver, path: str) -> dict:  # type: ignore[type-arg]
    wait_for(lambda: len(receiver.acked(path)) == 1, f"the {path} callback", 60)
    return receiver.acked(path)[0].json


def test_a_seed_create_is_announced_in_the_seed_shape(gw: Gateway, receiver: Receiver) -> None:
    http = gw.http()
    body = {"prompt": "a seed-shaped lighthouse", "duration_seconds": 4, "callback_url": receiver.url + "/seed"}
    seed_id = http.post("/v1/video/generations", json=body).json()["id"]
    openai_id = http.post(
        "/v1/videos",
        json={"prompt": "an openai-shaped lighthouse", "seconds": "4", "callback_url": receiver.url + "/oa"},
    ).json()["id"]

    payload = delivered(receiver, "/seed")
    assert payload["type"] == "video.completed"
    data = payload["data"]
    assert data["object"] == "video.generation" and data["id"] == seed_id and data["status"] == "completed"
    assert data["data"][0]["url"] == f"https://videos.example.test/v1/videos/{seed_id}/content"
    assert data["data"][0]["metadata"]["duration_ms"] == 4000
    assert data == http.get(f"/v1/video/generations/{seed_id}").json()  # as the seed client's own GET shows it

    other = delivered(receiver, "/oa")["data"]
    assert other["object"] == "video" and other["id"] == openai_id and "data" not in other
    assert other == http.get(f"/v1/videos/{openai_id}").json()


def test_extensions_and_edits_announce_their_end_at_callback_url(
    gw: Gateway, receiver: Receiver, simulator_2026: Proc
) -> None:
    http, client = gw.http(), gw.client()
    source = client.videos.create_and_poll(prompt="a kite over dunes", seconds="4", **POLL)
    assert source.status == "completed"
    extended = http.post(
        "/v1/videos/extensions",
        json={
            "video": {"id": source.id},
            "prompt": "the kite climbs",
            "seconds": "4",
            "callback_url": receiver.url + "/ext",
        },
    )
    assert extended.status_code == 200, extended.text
    edited = http.post(  # a form, as a hand-written client sends it: video[id] and callback_url as fields
        "/v1/videos/edits",
        data={"video[id]": source.id, "prompt": "the kite turns red", "callback_url": receiver.url + "/edit"},
    )
    assert edited.status_code == 200, edited.text
    for path, video_id, kind in (("/ext", extended.json()["id"], "extended"), ("/edit", edited.json()["id"], "edited")):
        payload = delivered(receiver, path)
        assert payload["type"] == "video.completed" and payload["data"]["id"] == video_id, (kind, payload)
        assert payload["data"]["status"] == "completed"
    assert extended.json()["extended_from_video_id"] == source.id

    before = calls(simulator_2026, "extend") + calls(simulator_2026, "edit")
    for path, body in (
        ("/v1/videos/extensions", {"video": {"id": source.id}, "prompt": "on", "seconds": "4"}),
        ("/v1/videos/edits", {"video": {"id": source.id}, "prompt": "blue"}),
    ):
        refused = http.post(path, json={**body, "callback_url": "http://169.254.169.254/latest"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_callback_url"
        assert refused.json()["error"]["param"] == "callback_url"
    assert calls(simulator_2026, "extend") + calls(simulator_2026, "edit") == before
