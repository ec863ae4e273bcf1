"""Content throughput through the gateway from ``s3://`` next to ``file://``, with the gateway's RSS.

    .venv/bin/python -m benchmarks.s3_content [--mb 400]

For each content store a simulator and a gateway are started as real processes; a real video is made,
then its retained media is replaced by ``--mb`` MiB of random bytes (with the matching sha256): in the
data directory for ``file://``, in the bucket of a local S3-compatible server (moto's server mode,
``python -m moto.server``) for ``s3://``. The whole file is then downloaded through the gateway while its
RSS is sampled every 20 ms; the client checks the sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.download_rss import Sampler
from benchmarks.stack import Stack, free_port, new_stack, rss_kib

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"}


def payload(mb: int) -> Iterator[bytes]:
    block = os.urandom(1 << 20)
    for i in range(mb):
        yield block[i % 251 :] + block[: i % 251]  # not one repeated block


def start_moto(root: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(os.path.join(root, "moto.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1)
            return proc, endpoint
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def replace_file(stack: Stack, video_id: str, mb: int) -> str:
    target = stack.root / "data" / "content" / video_id[-2:] / video_id / "video.mp4"
    digest = hashlib.sha256()
    with open(target.with_suffix(".tmp"), "wb") as fh:
        for chunk in payload(mb):
            digest.update(chunk)
            fh.write(chunk)
    os.replace(target.with_suffix(".tmp"), target)
    target.with_suffix(".mp4.sha256").write_text(digest.hexdigest())
    return digest.hexdigest()


def replace_object(endpoint: str, bucket: str, video_id: str, mb: int) -> str:
    key = f"bench/{video_id[-2:]}/{video_id}/video"
    digest = hashlib.sha256()
    spool = tempfile.TemporaryFile()
    for chunk in payload(mb):
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    client = s3_client(endpoint)
    client.upload_fileobj(spool, bucket, key, ExtraArgs={"ContentType": "video/mp4", "Metadata": {"ext": "mp4"}})
    client.upload_fileobj(io.BytesIO(digest.hexdigest().encode()), bucket, key + ".sha256")
    return digest.hexdigest()


def measure(stack: Stack, video_id: str, expected: str) -> tuple[float, float, float, int]:
    """(idle RSS MiB, peak RSS MiB, MiB/s, bytes) of one full download."""
    with stack.http() as http:
        for _ in range(20):
            http.get(f"/v1/videos/{video_id}")
        idle = rss_kib(stack.gateway_pid)
        received, check = 0, hashlib.sha256()
        started = time.perf_counter()
        with Sampler(stack.gateway_pid) as sampler:
            with http.stream("GET", f"/v1/videos/{video_id}/content") as response:
                for chunk in response.iter_bytes(1 << 20):
                    received += len(chunk)
                    check.update(chunk)
        elapsed = time.perf_counter() - started
    assert check.hexdigest() == expected, "corrupt download"
    return idle / 1024, sampler.peak / 1024, received / 2**20 / elapsed, received


def write_rss(endpoint: str, bucket: str, mb: int) -> tuple[float, float, float]:
    """(idle RSS MiB, peak RSS MiB, MiB/s) of streaming ``mb`` MiB into the bucket in this process, as
    retention does with an upstream's download (``S3ContentStore.write``: a multipart upload)."""
    import asyncio

    from gateway.content.s3 import S3ContentStore

    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    store = S3ContentStore(f"s3://{bucket}/writes", work_dir=Path(tempfile.mkdtemp()), env=env)

    async def source() -> AsyncIterator[bytes]:
        for chunk in payload(mb):
            yield chunk
            await asyncio.sleep(0)

    idle = rss_kib(os.getpid())
    started = time.perf_counter()
    with Sampler(os.getpid()) as sampler:
        stored = asyncio.run(store.write("video_" + "0" * 48, "video", source(), "mp4"))
    elapsed = time.perf_counter() - started
    assert stored.size == mb << 20
    return idle / 1024, sampler.peak / 1024, mb / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=400)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sora-gw-s3bench-")
    moto, endpoint = start_moto(work)
    rows: list[tuple[str, float, float, float, int]] = []
    try:
        for backend in ("file", "s3"):
            saved = dict(os.environ)
            bucket = f"bench-{os.getpid()}"
            if backend == "s3":
                s3_client(endpoint).create_bucket(Bucket=bucket)
                os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
                os.environ["SORA_GATEWAY_CONTENT_STORE"] = f"s3://{bucket}/bench"
            stack = new_stack().start()
            try:
                video_id = stack.finished_video(f"benchmark clip on {backend}")
                if backend == "file":
                    expected = replace_file(stack, video_id, args.mb)
                else:
                    expected = replace_object(endpoint, bucket, video_id, args.mb)
                idle, peak, rate, size = measure(stack, video_id, expected)
                rows.append((backend, idle, peak, rate, size))
            finally:
                stack.stop()
                shutil.rmtree(stack.root, ignore_errors=True)
                os.environ.clear()
                os.environ.update(saved)
        s3_client(endpoint).create_bucket(Bucket="bench-writes")
        write = write_rss(endpoint, "bench-writes", args.mb)
    finally:
        moto.terminate()
        moto.wait(15)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'store':6} {'MiB':>6} {'RSS idle':>9} {'RSS peak':>9} {'MiB/s':>7}")
    for backend, idle, peak, rate, size in rows:
        print(f"{backend:6} {size / 2**20:6.0f} {idle:8.1f}M {peak:8.1f}M {rate:7.0f}  (+{peak - idle:.1f} MiB)")
    idle, peak, rate = write
    print(f"retention write into s3 ({args.mb} MiB, multipart, in-process): RSS {idle:.1f}M -> peak {peak:.1f}M")
    print(f"  (+{peak - idle:.1f} MiB), {rate:.0f} MiB/s")


if __name__ == "__main__":
    main()
