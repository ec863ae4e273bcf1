"""Endpoints that depend on the upstream version: extensions, edits, characters; input_reference forwarding."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from gateway.media.probe import probe_duration
from tests.conftest import Gateway, calls, start_gateway
from tests.procs import Proc


def png_bytes() -> bytes:
    frame = av.VideoFrame.from_ndarray(np.full((72, 128, 3), 200, dtype=np.uint8), format="rgb24")
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 128, 72, "rgb24"
        for packet in stream.encode(frame):
            out.mux(packet)
    return buf.getvalue()


@pytest.fixture(scope="module")
def gw_2026(simulator_2026: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(simulator_2026, tmp_path_factory.mktemp("gw26"), "memory://")
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="module")
def gw_2025(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(simulator, tmp_path_factory.mktemp("gw25"), "memory://")
    yield gw
    gw.proc.stop()


def test_extension_is_forwarded_and_counts_the_stitched_total(gw_2026: Gateway, tmp_path: Path) -> None:
    client = gw_2026.client()
    source = client.videos.create_and_poll(prompt="a kite over a beach", seconds="4", poll_interval_ms=100)
    with gw_2026.http() as http:
        response = http.post(
            "/v1/videos/extensions", json={"video": {"id": source.id}, "prompt": "the kite climbs", "seconds": "8"}
        )
    assert response.status_code == 200, response.text
    extended = client.videos.poll(response.json()["id"], poll_interval_ms=100)
    assert extended.status == "completed" and extended.seconds == "12"
    path = tmp_path / "ext.mp4"
    path.write_bytes(client.videos.download_content(extended.id).content)
    assert abs(probe_duration(path) - 12) < 0.2


def test_edit_is_forwarded(gw_2026: Gateway) -> None:
    client = gw_2026.client()
    source = client.videos.create_and_poll(prompt="a grey cat", poll_interval_ms=100)
    with gw_2026.http() as http:
        response = http.post("/v1/videos/edits", json={"video": {"id": source.id}, "prompt": "make the cat orange"})
    assert response.status_code == 200, response.text
    assert client.videos.poll(response.json()["id"], poll_interval_ms=100).status == "completed"


def test_characters_are_forwarded_and_tenant_scoped(gw_2026: Gateway, simulator_2026: Proc) -> None:
    source = gw_2026.client().videos.create_and_poll(prompt="a dancer", poll_interval_ms=100)
    clip = gw_2026.client().videos.download_content(source.id).content
    with gw_2026.http() as http:
        made = http.post("/v1/videos/characters", files={"video": ("d.mp4", clip, "video/mp4")}, data={"name": "Dee"})
        assert made.status_code == 200, made.text
        char_id = made.json()["id"]
        assert http.get(f"/v1/videos/characters/{char_id}").json()["name"] == "Dee"
    with gw_2026.http("globex") as other:
        assert other.get(f"/v1/videos/characters/{char_id}").status_code == 404


def test_old_upstream_gets_a_clear_400_for_new_endpoints(gw_2025: Gateway, simulator: Proc) -> None:
    source = gw_2025.client().videos.create_and_poll(prompt="old upstream", poll_interval_ms=100)
    before = calls(simulator, "extend")
    with gw_2025.http() as http:
        for path, body in [
            ("/v1/videos/extensions", {"video": {"id": source.id}, "prompt": "more", "seconds": "4"}),
            ("/v1/videos/edits", {"video": {"id": source.id}, "prompt": "change"}),
        ]:
            response = http.post(path, json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "unsupported_by_upstream"
            assert "openai-2025-10" in response.json()["error"]["message"]
        chars = http.post("/v1/videos/characters", files={"video": ("a.mp4", b"x", "video/mp4")}, data={"name": "A"})
        assert chars.status_code == 400 and chars.json()["error"]["code"] == "unsupported_by_upstream"
    assert calls(simulator, "extend") == before


def test_input_reference_file_is_forwarded(gw_2025: Gateway, simulator: Proc) -> None:
    client = gw_2025.client()
    video = client.videos.create(prompt="animate this still", input_reference=("still.png", png_bytes(), "image/png"))
    assert client.videos.poll(video.id, poll_interval_ms=100).status == "completed"


def test_input_reference_object_is_forwarded(gw_2025: Gateway) -> None:
    with gw_2025.http() as http:
        response = http.post(
            "/v1/videos",
            json={"prompt": "from a url", "input_reference": {"image_url": "https://example.com/still.png"}},
        )
        assert response.status_code == 200, response.text
        bad = http.post("/v1/videos", json={"prompt": "x", "input_reference": {"nothing": 1}})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "input_reference"
