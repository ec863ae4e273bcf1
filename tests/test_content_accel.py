"""content_accel_redirect: a proxy that asks for it gets X-Accel-Redirect to the retained file; others get bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import FAST_CONFIG, start_gateway
from tests.procs import start_simulator

ACCEL = {"X-Sora-Gateway-Accel": "1"}


def test_the_proxy_gets_a_redirect_to_the_file_and_a_direct_client_gets_the_bytes(tmp_path: Path) -> None:
    sim = start_simulator()
    gw = start_gateway(sim, tmp_path, "memory://", config=FAST_CONFIG + "content_accel_redirect: /_sora_content/\n")
    try:
        client = gw.client()
        video = client.videos.create_and_poll(prompt="a retained clip", seconds="4", poll_interval_ms=50)
        assert video.status == "completed"
        with gw.http() as http:
            direct = http.get(f"/v1/videos/{video.id}/content")
            assert direct.status_code == 200 and len(direct.content) > 1000
            digest = hashlib.sha256(direct.content).hexdigest()
            assert direct.headers["etag"] == f'"{digest}"'

            proxied = http.get(f"/v1/videos/{video.id}/content", headers=ACCEL)
            assert proxied.status_code == 200 and proxied.content == b""
            assert proxied.headers["content-type"] == "video/mp4" and proxied.headers["etag"] == f'"{digest}"'
            target = proxied.headers["x-accel-redirect"]
            assert target.startswith("/_sora_content/") and ".." not in target
            on_disk = gw.data_dir / "content" / target.removeprefix("/_sora_content/")
            assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == digest  # nginx would send exactly this

            cached = http.get(f"/v1/videos/{video.id}/content", headers={**ACCEL, "If-None-Match": f'"{digest}"'})
            assert cached.status_code == 304 and "x-accel-redirect" not in cached.headers
        with gw.http("globex") as http:  # the checks stay the gateway's: another team gets a 404, no redirect
            other = http.get(f"/v1/videos/{video.id}/content", headers=ACCEL)
            assert other.status_code == 404 and "x-accel-redirect" not in other.headers
    finally:
        gw.proc.stop()
        sim.stop()
