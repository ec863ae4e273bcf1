"""Where the gateway keeps the videos it has fetched from the upstream."""

from gateway.content.local import LocalContentStore, StoredFile

__all__ = ["LocalContentStore", "StoredFile"]
