"""Where the gateway keeps the videos it has fetched from the upstream: ``file://`` or ``s3://``."""

from gateway.content.base import ContentRedirect, ContentStore, ContentStoreError, Stored, StoredObject
from gateway.content.factory import open_content
from gateway.content.local import LocalContentStore, StoredFile

__all__ = [
    "ContentRedirect",
    "ContentStore",
    "ContentStoreError",
    "LocalContentStore",
    "Stored",
    "StoredFile",
    "StoredObject",
    "open_content",
]
