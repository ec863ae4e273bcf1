"""Where jobs, leases and small keyed values live: pick a backend by URL.

``memory://``                       this process only (demo, tests)
``sqlite:///relative/path.db``      one file, relative to the working directory
``sqlite:////absolute/path.db``     one file, absolute path
``redis://host:port/db?prefix=x``   shared by replicas (also ``rediss://``)
"""

from __future__ import annotations

from gateway.store.base import JobStore, StoreError

__all__ = ["JobStore", "StoreError", "open_store"]

_SQLITE = "sqlite:///"


def open_store(url: str) -> JobStore:
    """Open the store ``url`` names; :class:`ValueError` naming the URL when it names none."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        from gateway.store.memory import MemoryStore

        if url.lower() != "memory://":
            raise ValueError(f"store URL {url!r}: memory:// takes no path or options")
        return MemoryStore(url)
    if scheme == "sqlite":
        from gateway.store.sqlite import SqliteStore

        path = url[len(_SQLITE) :] if url.lower().startswith(_SQLITE) else ""
        if not path:
            raise ValueError(f"store URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path")
        return SqliteStore(path, url=url)
    if scheme in {"redis", "rediss"}:
        from gateway.store.redis_store import RedisStore, mask_url

        try:
            return RedisStore(url)
        except ValueError as exc:
            if mask_url(url) in str(exc):
                raise
            raise ValueError(f"store URL {mask_url(url)!r}: {exc}") from exc
    from gateway.store.redis_store import mask_url

    raise ValueError(
        f"unsupported store URL {mask_url(url)!r}: expected memory://, sqlite:///path or redis://host:port/db"
    )
