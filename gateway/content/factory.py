"""The content store a URL names: ``file://DIR`` or ``s3://bucket[/prefix]``."""

from __future__ import annotations

from pathlib import Path

from gateway.content.base import ContentStore
from gateway.content.local import LocalContentStore


def content_url(content_store: str | None, data_dir: str) -> str:
    """The configured URL, or the default ``file://<data_dir>/content``."""
    return content_store or f"file://{Path(data_dir) / 'content'}"


def open_content(content_store: str | None, data_dir: str, *, presign_s: float = 0.0) -> ContentStore:
    url = content_url(content_store, data_dir)
    if url.startswith("s3://"):
        from gateway.content.s3 import S3ContentStore  # obstore only when S3 is asked for

        return S3ContentStore(url, work_dir=Path(data_dir), presign_s=presign_s)
    if url.startswith("file://"):
        return LocalContentStore(url.removeprefix("file://"))
    raise ValueError(f"content store must be file://DIR or s3://bucket[/prefix], got {url!r}")
