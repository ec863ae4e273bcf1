"""Talking to an S3-compatible endpoint: the bucket from the standard AWS variables, plain error reasons."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from obstore.store import S3Store


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` -> (bucket, prefix without slashes)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"expected s3://bucket[/prefix], got {url!r}")
    return parts.netloc, parts.path.strip("/")


def reason(exc: BaseException) -> str:
    """A one-line reason without the request's signature or the body's request ids."""
    text = str(exc)
    for marker, plain in (
        ("NoSuchBucket", "the bucket does not exist"),
        ("InvalidAccessKeyId", "the access key was refused (AWS_ACCESS_KEY_ID)"),
        ("SignatureDoesNotMatch", "the secret key was refused (AWS_SECRET_ACCESS_KEY)"),
        ("AccessDenied", "access denied"),
        ("403 Forbidden", "access denied"),
        ("Connection refused", "connection refused"),
        ("error sending request", "the endpoint is unreachable"),
    ):
        if marker in text:
            return plain
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


def open_bucket(bucket: str, prefix: str, env: Mapping[str, str]) -> S3Store:
    """An obstore client for ``bucket``/``prefix``: endpoint, region and keys from ``env`` (AWS_*)."""
    config: dict[str, Any] = {"region": env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1"}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        config["endpoint"] = endpoint
    for name, key in (
        ("AWS_ACCESS_KEY_ID", "access_key_id"),
        ("AWS_SECRET_ACCESS_KEY", "secret_access_key"),
        ("AWS_SESSION_TOKEN", "session_token"),
    ):
        if env.get(name):
            config[key] = env[name]
    return S3Store(
        bucket,
        prefix=prefix or None,
        config=config,  # type: ignore[arg-type]
        client_options={
            "allow_http": bool(endpoint and endpoint.startswith("http://")),
            "connect_timeout": timedelta(seconds=5),
            "timeout": timedelta(minutes=10),
        },
        retry_config={
            "max_retries": 3,
            "retry_timeout": timedelta(seconds=30),
            "backoff": {"init_backoff": timedelta(milliseconds=200), "max_backoff": timedelta(seconds=5)},
        },
    )


class SourceError(Exception):
    """An error of the stream being uploaded (not of the bucket): re-raised as itself."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


async def noop() -> None:
    return None


def digest_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


async def read_file(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:
        while block := await asyncio.to_thread(fh.read, 1 << 20):
            yield block


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)
