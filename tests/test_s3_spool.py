"""A content-store outage longer than the upstream keeps its videos loses nothing (issue 21, item 7).

Finalising downloads the media to local files first, then uploads them, retrying the upload until the bucket
takes it. Here moto's S3 server is stopped before the videos finish, the upstream (the simulator) expires them
while the bucket is still down, then the bucket comes back: the videos are uploaded from the local copies and
served, measured with PyAV, and nothing was fetched from the upstream again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import httpx
import pytest

from gateway.media.probe import probe_duration
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, calls, start_gateway
from tests.procs import start_simulator, wait_for
from tests.s3server import S3Server, start_s3_server
from tests.test_s3_faults import _status


def upstream_ids(sim_url: str, prompt: str) -> list[str]:
    """Ids of the upstream videos the gateway made for ``prompt`` (its segments' prompts start with it)."""
    with httpx.Client(base_url=sim_url, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}, timeout=10) as http:
        listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    return [str(v["id"]) for v in listed if str(v.get("prompt", "")).startswith(prompt)]


def test_a_video_paid_while_the_bucket_is_down_outlives_the_upstream_copy(tmp_path: Path) -> None:
    sim = start_simulator()  # openai-2025-10: 20 s is two creates stitched by the gateway
    s3 = start_s3_server()
    bucket = s3.new_bucket()
    gw = start_gateway(
        sim, tmp_path, "memory://", "--content-store", f"s3://{bucket}/spool", config=FAST_CONFIG, env=s3.env()
    )
    try:
        port = s3.port
        s3.stop()  # the bucket is unreachable from now on
        made = {}
        for seconds in ("4", "20"):
            prompt = f"paid while the bucket is down {uuid.uuid4().hex[:8]}"
            made[gw.client().videos.create(prompt=prompt, seconds=seconds).id] = (prompt, float(seconds))
        for video_id in made:  # every segment done, downloaded, and its upload refused by the dead bucket
            wait_for(lambda v=video_id: _retries(gw.proc.logs(), v) >= 2, "a second upload try", 90)
        fetched = calls(sim, "content")
        for prompt, _ in made.values():  # the upstream's retention ends while the bucket is still down
            ids = upstream_ids(sim.url, prompt)
            assert ids
            for upstream_id in ids:
                assert httpx.post(f"{sim.url}/_sim/expire/{upstream_id}", timeout=10).status_code == 200
        for video_id in made:  # one more try each since: the upstream's copy is gone, the bucket still down
            tries = _retries(gw.proc.logs(), video_id)
            wait_for(
                lambda v=video_id, n=tries: _retries(gw.proc.logs(), v) > n or _status(gw.url, v) == "failed",
                "a try after the upstream's expiry",
                90,
            )
            assert _status(gw.url, video_id) == "in_progress"  # not failed (content_expired): kept locally

        s3 = start_s3_server(port=port)  # back (moto keeps nothing: the bucket is made again, empty)
        s3.client().create_bucket(Bucket=bucket)
        for video_id in made:
            wait_for(lambda v=video_id: _status(gw.url, v) in ("completed", "failed"), "the video to be retained", 120)
            assert _status(gw.url, video_id) == "completed"  # not failed with content_expired
        assert calls(sim, "content") == fetched  # uploaded from the local copies: nothing fetched again
        objects = s3.objects(bucket)
        for video_id, (_, seconds) in made.items():
            data = gw.client().videos.download_content(video_id).content
            key = next(k for k in objects if k.endswith(f"{video_id}/video"))
            assert objects[key] == len(data)
            mp4 = tmp_path / f"{video_id}.mp4"
            mp4.write_bytes(data)
            assert probe_duration(mp4) == pytest.approx(seconds, abs=0.05)
            with gw.http() as http:
                etag = http.get(f"/v1/videos/{video_id}/content").headers["etag"]
                assert etag == f'"{hashlib.sha256(data).hexdigest()}"'
                assert http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"}).status_code == 200
        leftovers = [p for p in (gw.data_dir / "scratch").rglob("*") if p.is_file()] if gw.data_dir.exists() else []
        assert [p for p in leftovers if any(v in str(p) for v in made)] == []  # the local copies are gone
    finally:
        gw.proc.stop()
        s3.stop()
        sim.stop()


def _retries(logs: str, video_id: str) -> int:
    return sum(1 for line in logs.splitlines() if "content_store_retry" in line and video_id in line)


def test_the_lifecycle_rule_aborts_incomplete_uploads_after_a_day(s3_server: S3Server) -> None:
    """``deploy/s3-lifecycle.json`` is a lifecycle configuration an S3 API accepts, as the README applies it."""
    rules = json.loads((Path(__file__).parent.parent / "deploy" / "s3-lifecycle.json").read_text())
    bucket = s3_server.new_bucket()
    s3_server.client().put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rules)
    applied = s3_server.client().get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in applied] == [1]
    assert applied[0]["Status"] == "Enabled"
