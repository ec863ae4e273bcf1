"""A full disk: clean refusals, no paid generation discarded, recovery once space is back.

The gateway's data directory is a small tmpfs the test mounts (we run as root); where mounting is
not allowed (some CI sandboxes) the test-only switch ``SORA_GATEWAY_TEST_DISK_FULL_FLAG`` makes
every content and upload write fail with ENOSPC while a flag file exists.

A 4 s video is accepted and generated upstream (slow simulator: ~12 s), the disk fills meanwhile:
its assembly fails with ENOSPC again and again and the job waits (never ``failed``); new creates
get 503 ``storage_unavailable``, an upload 507 ``insufficient_storage`` with no ``.part`` left, and
``/readyz`` is not ready. Space comes back: the waiting job completes with its one generation.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.media.probe import probe_video
from tests.conftest import KEYS, start_gateway
from tests.procs import start_simulator, wait_for

AUTH = {"Authorization": f"Bearer {KEYS['acme']}"}
TMPFS_BYTES = 24 * 1024 * 1024


class Disk:
    """The data directory's filesystem: fill it up, give the space back."""

    def __init__(self, root: Path, flag: Path | None) -> None:
        self.root, self.flag = root, flag
        self.filler = root / "filler.bin"

    def fill(self) -> None:
        if self.flag is not None:
            self.flag.touch()
            return
        with open(self.filler, "ab") as fh:
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * (256 * 1024))
                    fh.flush()
        with contextlib.suppress(OSError):  # whatever small remainder is left
            with open(self.root / "filler-tail.bin", "wb") as tail:
                while True:
                    tail.write(b"\0" * 4096)
                    tail.flush()
        with pytest.raises(OSError) as raised:
            (self.root / "probe").write_bytes(b"\0" * 8192)
        assert raised.value.errno == errno.ENOSPC

    def free(self) -> None:
        if self.flag is not None:
            self.flag.unlink(missing_ok=True)
            return
        self.filler.unlink(missing_ok=True)
        (self.root / "filler-tail.bin").unlink(missing_ok=True)
        (self.root / "probe").unlink(missing_ok=True)


@pytest.fixture(params=["tmpfs", "switch"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Disk, dict[str, str]]]:
    """A real small filesystem where the test may mount one (else the switch), and the switch itself."""
    root = tmp_path / "data"
    root.mkdir()
    mounted = False
    if request.param == "tmpfs" and os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(root)], capture_output=True
        )
        mounted = done.returncode == 0
    flag = None if mounted else tmp_path / "disk-full.flag"
    env = {} if flag is None else {"SORA_GATEWAY_TEST_DISK_FULL_FLAG": str(flag)}
    try:
        yield Disk(root, flag), env
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)


def metric(gw_url: str, name: str, labels: str = "") -> float:
    text = httpx.get(gw_url + "/metrics", timeout=10).text
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_full_disk_refuses_cleanly_and_keeps_the_paid_generation(
    tmp_path: Path, disk: tuple[Disk, dict[str, str]]
) -> None:
    full, env = disk
    sim = start_simulator(profile="openai-2025-10", time_scale=0.2)  # a 4 s video takes ~12 s upstream
    gw = start_gateway(sim, tmp_path / "gw", f"sqlite:///{tmp_path / 'gw.db'}", "--data-dir", str(full.root), env=env)
    try:
        http = gw.http()
        waiting = http.post("/v1/videos", json={"prompt": "a kite over the dunes", "seconds": "4"})
        assert waiting.status_code == 200, waiting.text
        vid = waiting.json()["id"]
        generations = int(httpx.get(sim.url + "/_sim/stats").json()["generations"])

        full.fill()
        wait_for(lambda: httpx.get(gw.url + "/readyz").status_code == 503, "/readyz to see the full disk", 60)
        content = httpx.get(gw.url + "/readyz").json()["checks"]["content"]
        assert content["ok"] is False and content["error"], content

        refused = http.post("/v1/videos", json={"prompt": "a second kite", "seconds": "4"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "storage_unavailable"
        assert set(refused.json()["error"]) == {"message", "type", "param", "code"}

        image = os.urandom(512 * 1024)
        upload = http.post(
            "/v1/videos",
            data={"prompt": "a third kite", "seconds": "4"},
            files={"input_reference": ("ref.png", image, "image/png")},
        )
        assert upload.status_code == 507, upload.text
        assert upload.json()["error"]["code"] == "insufficient_storage"
        assert upload.json()["error"]["param"] == "input_reference"
        uploads = full.root / "uploads"
        assert not list(uploads.glob("*.part")) if uploads.exists() else True
        assert not (list(uploads.iterdir()) if uploads.exists() else []), "a refused upload was kept"

        # the accepted video finishes upstream; its fetch fails for space again and again, the job waits
        wait_for(
            lambda: metric(gw.url, "sora_gateway_content_write_errors_total", '{reason="no_space"}') >= 5,
            "repeated fetch attempts on the full disk",
            120,
        )
        assert http.get(f"/v1/videos/{vid}").json()["status"] == "in_progress"
        assert metric(gw.url, "sora_gateway_content_writable") == 0
        assert "job_assembly_waiting_for_space" in gw.proc.logs()

        full.free()
        wait_for(lambda: httpx.get(gw.url + "/readyz").status_code == 200, "/readyz after space is back", 60)
        deadline = time.monotonic() + 120
        while (video := http.get(f"/v1/videos/{vid}").json())["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline, video
            time.sleep(0.2)
        assert video["status"] == "completed", video
        got = http.get(f"/v1/videos/{vid}/content")
        assert got.status_code == 200
        out = tmp_path / "kite.mp4"
        out.write_bytes(got.content)
        assert abs(float(probe_video(str(out))["duration"]) - 4) < 0.2
        stats = httpx.get(sim.url + "/_sim/stats").json()
        assert stats["generations"] == generations, "the waiting job was generated again"
        again = http.post("/v1/videos", json={"prompt": "a second kite", "seconds": "4"})
        assert again.status_code == 200, again.text
        assert metric(gw.url, "sora_gateway_content_writable") == 1
    finally:
        gw.proc.stop()
        sim.stop()
