"""Where the gateway keeps the videos it has fetched from the upstream."""

from gateway.content.base import ContentStore
from gateway.content.local import LocalContentStore, StoredFile

__all__ = ["ContentStore", "LocalContentStore", "StoredFile"]
