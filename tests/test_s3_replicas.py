"""Replicas without a shared disk: two ``serve`` processes on one Redis and one S3 server (moto's server
mode), each with its own data directory. Whatever one replica retained, the other serves; a replica
killed while retaining leaves nothing half-written, and the other finishes the job."""

from __future__ import annotations

import hashlib
import io
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gateway.media.probe import probe_duration
from tests.conftest import FAST_CONFIG, Gateway, calls, start_gateway, store_url
from tests.procs import Proc, start_simulator, wait_for
from tests.s3server import S3Server

CONFIG = FAST_CONFIG + "content_sweep_s: 0.2\n"


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    simulator = start_simulator()
    yield simulator
    simulator.stop()


def replica(sim: Proc, tmp: Path, store: str, bucket: str, s3: S3Server, *extra: str) -> Gateway:
    """A gateway with its own data dir, sharing ``store`` (Redis) and ``bucket`` (S3) with the others."""
    return start_gateway(
        sim, tmp, store, "--content-store", f"s3://{bucket}/content", *extra, config=CONFIG, env=s3.env()
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_ten_jobs_made_on_one_replica_download_identically_from_the_other(
    sim: Proc, s3_server: S3Server, tmp_path: Path
) -> None:
    store, bucket = store_url("redis", tmp_path), s3_server.new_bucket()
    one = replica(sim, tmp_path / "one", store, bucket, s3_server)
    two = replica(sim, tmp_path / "two", store, bucket, s3_server)
    try:
        client = one.client()
        tag = uuid.uuid4().hex[:8]
        asks = [("30", f"a segmented coastline {tag}")] + [("4", f"clip {n} {tag}") for n in range(8)]

        def make(ask: tuple[str, str]) -> str:
            return client.videos.create_and_poll(prompt=ask[1], seconds=ask[0], poll_interval_ms=100).id

        with ThreadPoolExecutor(5) as pool:
            ids = list(pool.map(make, asks))
        # the tenth: with an uploaded input_reference, which must reach the bucket for any replica to send
        png = _png()
        with one.http() as http:
            made = http.post(
                "/v1/videos",
                data={"prompt": f"from a reference {tag}", "seconds": "4", "size": "1280x720"},
                files={"input_reference": ("ref.png", png, "image/png")},
            )
        assert made.status_code == 200, made.text
        ids.append(made.json()["id"])
        wait_for(lambda: _status(one, ids[-1]) == "completed", "the referenced video", 120)
        assert f"content/uploads/{sha(png)}" in s3_server.objects(bucket, "content/uploads/")

        assert len(ids) == 10 and all(_status(one, i) == "completed" for i in ids)
        before = calls(sim, "content")
        for video_id in ids:
            first = one.client().videos.download_content(video_id).content
            second = two.client().videos.download_content(video_id).content
            assert sha(first) == sha(second) and len(first) > 1000, video_id
        assert calls(sim, "content") == before  # every byte came from the bucket, none from the upstream
        stitched = tmp_path / "stitched.mp4"
        stitched.write_bytes(two.client().videos.download_content(ids[0]).content)
        assert abs(probe_duration(stitched) - 30) < 0.1
        with two.http() as http:  # Range and ETag served from the bucket by the replica that never had the file
            whole = http.get(f"/v1/videos/{ids[0]}/content")
            assert whole.headers["etag"] == f'"{sha(whole.content)}"'
            part = http.get(f"/v1/videos/{ids[0]}/content", headers={"Range": "bytes=1000-1999"})
            assert part.status_code == 206 and part.content == whole.content[1000:2000]
            same = http.get(f"/v1/videos/{ids[0]}/content", headers={"If-None-Match": whole.headers["etag"]})
            assert same.status_code == 304
            beyond = http.get(f"/v1/videos/{ids[0]}/content", headers={"Range": f"bytes={len(whole.content)}-"})
            assert beyond.status_code == 416 and beyond.json()["error"]["code"] == "invalid_range"
            assert beyond.headers["content-range"] == f"bytes */{len(whole.content)}"
            garbage = http.get(f"/v1/videos/{ids[0]}/content", headers={"Range": "bytes=9-3"})
            assert garbage.status_code == 400 and garbage.json()["error"]["param"] == "Range"
        for gw in (one, two):  # no replica kept a video on its own disk (stitch parts are gone from scratch too)
            assert not list(gw.data_dir.rglob("*.mp4")), sorted(map(str, gw.data_dir.rglob("*.mp4")))
    finally:
        one.proc.stop()
        two.proc.stop()


def test_a_replica_killed_while_retaining_leaves_nothing_half_written(
    sim: Proc, s3_server: S3Server, tmp_path: Path
) -> None:
    store, bucket = store_url("redis", tmp_path), s3_server.new_bucket()
    one = replica(sim, tmp_path / "one", store, bucket, s3_server)
    two: Gateway | None = None
    try:
        prompt = f"killed while retaining {uuid.uuid4().hex[:8]}"
        video_id = one.client().videos.create(prompt=prompt, seconds="12").id
        # every upstream answer now takes 3 s: the content download replica 1 starts is still under way
        httpx.post(sim.url + "/_sim/faults", json={"faults": "slow=1,slow_s=3"}, timeout=10).raise_for_status()
        try:
            wait_for(lambda: calls(sim, "content") > 0 or _status(one, video_id) == "completed", "retention", 120)
            one.proc.kill()  # SIGKILL in the middle of fetching the video into the bucket
        finally:
            httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10).raise_for_status()
        videos = {k: v for k, v in s3_server.objects(bucket).items() if video_id in k and k.endswith("/video")}
        assert not videos, f"replica 1 was killed after the upload completed: {videos}"
        two = replica(sim, tmp_path / "two", store, bucket, s3_server)
        wait_for(lambda: _status(two, video_id) == "completed", "replica 2 to finish the job", 120)
        data = two.client().videos.download_content(video_id).content
        kept = s3_server.objects(bucket)
        key = next(k for k in kept if k.endswith(f"{video_id}/video"))
        assert kept[key] == len(data)
        with two.http() as http:
            assert http.get(f"/v1/videos/{video_id}/content").headers["x-content-sha256"] == sha(data)
        path = tmp_path / "finished.mp4"
        path.write_bytes(data)
        assert abs(probe_duration(path) - 12) < 0.1
    finally:
        one.proc.stop()
        if two is not None:
            two.proc.stop()


def test_an_upload_accepted_by_one_replica_is_sent_by_the_other(sim: Proc, s3_server: S3Server, tmp_path: Path) -> None:
    store, bucket = store_url("redis", tmp_path), s3_server.new_bucket()
    one = replica(sim, tmp_path / "one", store, bucket, s3_server)
    two: Gateway | None = None
    png = _png()
    try:
        # the upstream fails every call: replica 1 accepts the job (its driver would retry) and dies
        httpx.post(sim.url + "/_sim/faults", json={"faults": "5xx=1"}, timeout=10).raise_for_status()
        try:
            with one.http() as http:
                made = http.post(
                    "/v1/videos",
                    data={"prompt": f"sent by the other {uuid.uuid4().hex[:8]}", "seconds": "4", "size": "1280x720"},
                    files={"input_reference": ("ref.png", png, "image/png")},
                )
            assert made.status_code == 200, made.text
            one.proc.kill()
        finally:
            httpx.post(sim.url + "/_sim/faults", json={"faults": ""}, timeout=10).raise_for_status()
        assert f"content/uploads/{sha(png)}" in s3_server.objects(bucket, "content/uploads/")
        shutil.rmtree(one.data_dir)  # replica 1's disk is gone with it (another machine, in real life)
        two = replica(sim, tmp_path / "two", store, bucket, s3_server)
        video_id = made.json()["id"]
        wait_for(lambda: _status(two, video_id) == "completed", "replica 2 to send and finish the job", 120)
        # replica 2 never received the upload: it came from S3, into scratch (out of the upload janitor's folder)
        fetched = two.data_dir / "scratch" / "uploads" / sha(png)
        assert fetched.read_bytes() == png
        assert not (two.data_dir / "uploads" / sha(png)).exists()
        assert "segment_upload_unavailable" not in two.proc.logs()
    finally:
        one.proc.stop()
        if two is not None:
            two.proc.stop()


def test_a_missing_bucket_stops_the_start_with_the_reason(sim: Proc, s3_server: S3Server, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failed:
        replica(sim, tmp_path, "memory://", "no-such-bucket-anywhere", s3_server)
    assert "no-such-bucket-anywhere" in str(failed.value) and "the bucket does not exist" in str(failed.value)
    assert s3_server.env()["AWS_SECRET_ACCESS_KEY"] not in str(failed.value)


def _status(gw: Gateway, video_id: str) -> str:
    with gw.http() as http:
        return str(http.get(f"/v1/videos/{video_id}").json().get("status"))


def _png() -> bytes:
    """A small real PNG (PyAV encodes it; no image library needed)."""
    import av
    import numpy as np

    frame = av.VideoFrame.from_ndarray(np.full((72, 128, 3), 90, dtype=np.uint8), format="rgb24")
    out = io.BytesIO()
    with av.open(out, "w", format="image2pipe") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 128, 72, "rgb24"
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    time.sleep(0)
    return out.getvalue()
