"""Download a multi-hundred-megabyte retained file through a running gateway while sampling its RSS.

    .venv/bin/python -m benchmarks.download_rss [--mb 400]

A real video is made through the gateway, then its retained file is replaced by ``--mb`` MB of
random bytes (with a matching checksum): the serving path is exactly the one a real large video
takes. Prints the gateway's RSS before, its peak during a full download and during a ranged
download of the second half, and the throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import threading
import time

from benchmarks.stack import new_stack, rss_kib


class Sampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.peak = pid, every_s, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(self.every_s)

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=400)
    args = parser.parse_args()
    stack = new_stack().start()
    try:
        video_id = stack.finished_video()
        target = next((stack.root / "data" / "content" / video_id[-2:] / video_id).glob("video.mp4"))
        digest = hashlib.sha256()
        block = os.urandom(1 << 20)
        with open(target.with_suffix(".tmp"), "wb") as fh:
            for i in range(args.mb):
                chunk = block[i % 251 :] + block[: i % 251]  # not one repeated block
                digest.update(chunk)
                fh.write(chunk)
        os.replace(target.with_suffix(".tmp"), target)
        target.with_suffix(".mp4.sha256").write_text(digest.hexdigest())
        size = target.stat().st_size

        with stack.http() as http:
            for _ in range(20):  # warm the serving path
                http.get(f"/v1/videos/{video_id}")
            idle = rss_kib(stack.gateway_pid)
            received, check = 0, hashlib.sha256()
            started = time.perf_counter()
            with Sampler(stack.gateway_pid) as full:
                with http.stream("GET", f"/v1/videos/{video_id}/content") as response:
                    for chunk in response.iter_bytes(1 << 20):
                        received += len(chunk)
                        check.update(chunk)
            elapsed = time.perf_counter() - started
            assert received == size and check.hexdigest() == digest.hexdigest(), "corrupt download"
            with Sampler(stack.gateway_pid) as ranged:
                headers = {"Range": f"bytes={size // 2}-"}
                with http.stream("GET", f"/v1/videos/{video_id}/content", headers=headers) as response:
                    assert response.status_code == 206
                    part = sum(len(c) for c in response.iter_bytes(1 << 20))
            assert part == size - size // 2
        print(f"file:                 {size / 2**20:.0f} MiB retained, sha256 verified on the client")
        print(f"gateway RSS idle:     {idle / 1024:.1f} MiB")
        print(f"peak, full download:  {full.peak / 1024:.1f} MiB (+{(full.peak - idle) / 1024:.1f} MiB)")
        print(f"peak, ranged (half):  {ranged.peak / 1024:.1f} MiB (+{(ranged.peak - idle) / 1024:.1f} MiB)")
        print(f"throughput:           {size / 2**20 / elapsed:.0f} MiB/s ({elapsed:.2f} s)")
    finally:
        stack.stop()
        shutil.rmtree(stack.root, ignore_errors=True)


if __name__ == "__main__":
    main()
