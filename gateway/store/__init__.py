"""Where jobs, leases and small keyed values live: pick a backend by URL.

``memory://``                       this process only (demo, tests)
``sqlite:///relative/path.db``      one file, relative to the working directory
``sqlite:////absolute/path.db``     one file, absolute path
``redis://host:port/db?prefix=x``   shared by replicas (also ``rediss://``)
"""

from __future__ import annotations

from gateway.config_urls import mask_url, store_problem
from gateway.store.base import JobStore, StoreError

__all__ = ["JobStore", "StoreError", "open_store"]

_SQLITE = "sqlite:///"


def open_store(url: str) -> JobStore:
    """Open the store ``url`` names; :class:`ValueError` naming the URL and its accepted forms when it names
    none (``gateway.config`` checks the same before the process gets this far)."""
    problem = store_problem(url)
    if problem:
        raise ValueError(f"bad store URL: {problem}")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        from gateway.store.memory import MemoryStore

        return MemoryStore(url)
    if scheme == "sqlite":
        from gateway.store.sqlite import SqliteStore

        return SqliteStore(url[len(_SQLITE) :], url=url)
    from gateway.store.redis_store import RedisStore

    try:
        return RedisStore(url)
    except ValueError as exc:
        if mask_url(url) in str(exc):
            raise
        raise ValueError(f"store URL {mask_url(url)!r}: {exc}") from exc
