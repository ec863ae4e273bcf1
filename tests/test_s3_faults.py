"""The bucket failing under a running gateway: retention is retried with backoff and the paid video is
kept once the bucket is back; meanwhile /readyz says why it is not ready, downloads get a clear 503."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import FAST_CONFIG, calls, start_gateway
from tests.procs import start_simulator, wait_for
from tests.s3server import S3Server, start_s3_server

# The simulator scales its content lifetime by --time-scale (3600 s x 0.004 = 14 s). Retention re-fetches the
# video from the upstream on each try, so with the bucket down for longer than that (a slow moto restart on a
# loaded machine) the upstream had expired it: content_expired, and this test gave up. Here the upstream keeps
# its videos 10 real minutes, the way a real one keeps them an hour.
KEEP_UPSTREAM_S = 600


def test_retention_survives_the_bucket_going_away_and_coming_back(tmp_path: Path) -> None:
    sim = start_simulator("--content-ttl", str(KEEP_UPSTREAM_S / 0.004), time_scale=0.004)
    s3 = start_s3_server()
    bucket = s3.new_bucket()
    gw = start_gateway(
        sim,
        tmp_path,
        "memory://",
        "--content-store",
        f"s3://{bucket}/kept",
        config=FAST_CONFIG + "content_sweep_s: 0.2\n",
        env=s3.env(),
    )
    try:
        kept = gw.client().videos.create_and_poll(prompt=f"kept first {uuid.uuid4().hex[:8]}", seconds="4")
        port = s3.port
        s3.stop()  # the bucket is unreachable from now on
        video_id = gw.client().videos.create(prompt=f"paid while the bucket is down {uuid.uuid4().hex[:8]}").id
        wait_for(lambda: "content_store_retry" in gw.proc.logs(), "a retention retry", 60)
        with gw.http() as http:
            assert http.get(f"/v1/videos/{video_id}").json()["status"] != "failed"
            ready = httpx.get(gw.url + "/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["checks"]["content"]["ok"] is False
            assert "kept" in ready.json()["checks"]["content"]["url"]
            down = http.get(f"/v1/videos/{kept.id}/content")
            assert down.status_code == 503 and down.json()["error"]["code"] == "content_store_unavailable"
        fetched_while_down = calls(sim, "content")

        s3 = start_s3_server(port=port)  # back (moto keeps nothing: the bucket is made again, empty)
        s3.client().create_bucket(Bucket=bucket)
        wait_for(lambda: _status(gw.url, video_id) == "completed", "the video to be retained", 120)
        assert calls(sim, "content") == fetched_while_down  # uploaded from its local copy, not fetched again
        data = gw.client().videos.download_content(video_id).content
        objects = s3.objects(bucket)
        key = next(k for k in objects if k.endswith(f"{video_id}/video"))
        assert objects[key] == len(data) and len(data) > 1000
        with gw.http() as http:
            assert http.get(f"/v1/videos/{video_id}/content").headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        wait_for(lambda: httpx.get(gw.url + "/readyz", timeout=10).status_code == 200, "ready again", 30)
        assert s3.env()["AWS_SECRET_ACCESS_KEY"] not in gw.proc.logs()
    finally:
        gw.proc.stop()
        s3.stop()
        sim.stop()


def _status(url: str, video_id: str) -> str:
    from tests.conftest import KEYS

    headers = {"Authorization": f"Bearer {KEYS['acme']}"}
    return str(httpx.get(f"{url}/v1/videos/{video_id}", headers=headers, timeout=10).json().get("status"))


def test_refused_keys_stop_the_start_naming_the_variable(tmp_path: Path) -> None:
    sim = start_simulator()
    s3 = start_s3_server(auth=True)  # checks keys and signatures like real S3
    try:
        bucket = s3.new_bucket()
        wrong_secret = {**s3.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret-0123456789"}
        for env, variable in (
            (wrong_secret, "AWS_SECRET_ACCESS_KEY"),
            ({**s3.env(), "AWS_ACCESS_KEY_ID": "AKIAUNKNOWN"}, "AWS_ACCESS_KEY_ID"),
        ):
            with pytest.raises(RuntimeError) as failed:
                start_gateway(sim, tmp_path / variable, "memory://", "--content-store", f"s3://{bucket}", env=env)
            assert (
                f"s3://{bucket}" in str(failed.value)
                and variable in str(failed.value)
                and "refused" in str(failed.value)
            )
            assert env["AWS_SECRET_ACCESS_KEY"] not in str(failed.value)
        good = start_gateway(sim, tmp_path / "good", "memory://", "--content-store", f"s3://{bucket}", env=s3.env())
        try:
            video = good.client().videos.create_and_poll(prompt=f"signed {uuid.uuid4().hex[:8]}", seconds="4")
            assert len(good.client().videos.download_content(video.id).content) > 1000
            assert any(key.endswith(f"{video.id}/video") for key in s3.objects(bucket))
        finally:
            good.proc.stop()
    finally:
        s3.stop()
        sim.stop()


def test_presigned_downloads_redirect_to_the_bucket(tmp_path: Path, s3_server: S3Server) -> None:
    sim = start_simulator()
    bucket = s3_server.new_bucket()
    config = FAST_CONFIG + "content_presign_s: 300\n"
    gw = start_gateway(
        sim, tmp_path, "memory://", "--content-store", f"s3://{bucket}", config=config, env=s3_server.env()
    )
    try:
        video = gw.client().videos.create_and_poll(prompt=f"presigned {uuid.uuid4().hex[:8]}", seconds="4")
        with gw.http() as http:
            answer = http.get(f"/v1/videos/{video.id}/content")
        assert answer.status_code == 307
        target = answer.headers["location"]
        assert target.startswith(s3_server.endpoint) and "X-Amz-Signature=" in target
        assert s3_server.env()["AWS_SECRET_ACCESS_KEY"] not in target
        data = gw.client().videos.download_content(video.id).content  # the SDK follows it to the bucket
        assert data == httpx.get(target, timeout=30).content and len(data) > 1000
    finally:
        gw.proc.stop()
        sim.stop()
