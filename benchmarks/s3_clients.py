"""How the S3 client was chosen: aiobotocore against obstore, upload and download MiB/s against moto.

    .venv/bin/pip install aiobotocore          # not a dependency: only this comparison uses it
    .venv/bin/python -m benchmarks.s3_clients [--mb 128]

Both clients talk to the same local moto server (``python -m moto.server``), upload ``--mb`` MiB as a
multipart upload (8 MiB parts) and download it twice, streaming in 1 MiB chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import httpx

from benchmarks.stack import free_port

KEYS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"}


async def with_aiobotocore(url: str, mb: int, block: bytes) -> tuple[float, list[float]]:
    from aiobotocore.session import get_session

    async with get_session().create_client("s3", endpoint_url=url) as client:
        await client.create_bucket(Bucket="bench-boto")
        started = time.perf_counter()
        upload = await client.create_multipart_upload(Bucket="bench-boto", Key="big")
        parts = []
        for number in range(1, mb // 8 + 1):
            part = await client.upload_part(
                Bucket="bench-boto", Key="big", UploadId=upload["UploadId"], PartNumber=number, Body=block * 8
            )
            parts.append({"PartNumber": number, "ETag": part["ETag"]})
        await client.complete_multipart_upload(
            Bucket="bench-boto", Key="big", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
        up = mb / (time.perf_counter() - started)
        downs = []
        for _ in range(2):
            started, size = time.perf_counter(), 0
            response = await client.get_object(Bucket="bench-boto", Key="big")
            async for chunk in response["Body"].iter_chunks(1 << 20):
                size += len(chunk)
            downs.append(size / 2**20 / (time.perf_counter() - started))
    return up, downs


async def with_obstore(url: str, mb: int, block: bytes) -> tuple[float, list[float]]:
    import boto3
    import obstore
    from obstore.store import S3Store

    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench-obstore")
    store = S3Store(
        "bench-obstore",
        config={"endpoint": url, "region": "us-east-1"},
        client_options={"allow_http": True},
    )

    async def source() -> AsyncIterator[bytes]:
        for _ in range(mb):
            yield block

    started = time.perf_counter()
    await obstore.put_async(store, "big", source(), chunk_size=8 << 20)
    up = mb / (time.perf_counter() - started)
    downs = []
    for _ in range(2):
        started, size = time.perf_counter(), 0
        result = await obstore.get_async(store, "big")
        async for chunk in result.stream(min_chunk_size=1 << 20):
            size += len(chunk)
        downs.append(size / 2**20 / (time.perf_counter() - started))
    return up, downs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128)
    args = parser.parse_args()
    os.environ.update(KEYS)
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        block = os.urandom(1 << 20)
        for name, run in (("aiobotocore", with_aiobotocore), ("obstore", with_obstore)):
            up, downs = asyncio.run(run(url, args.mb, block))
            print(f"{name:12} upload {up:6.0f} MiB/s   download {' / '.join(f'{d:.0f}' for d in downs)} MiB/s")
    finally:
        moto.terminate()
        moto.wait(15)


if __name__ == "__main__":
    main()
