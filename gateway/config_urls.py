"""What a URL setting may look like, checked before anything is opened.

Each check returns ``None`` for a usable URL, else what follows the setting's name in the error
(``store must be ...``): the accepted forms, the value given and, for a near miss such as
``sqlite://gw.db``, the form that was probably meant. A password in a Redis URL is never repeated:
the URL is shown as ``redis://***@host``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

STORE_FORMS = "memory://, sqlite:///relative/path.db, sqlite:////absolute/path.db or redis://host:port/db"
REDIS_FORMS = "redis://host:port/db (or rediss:// for TLS)"
CONTENT_FORMS = "file:///absolute/dir or file://relative/dir"


def mask_url(url: str) -> str:
    """``redis://:secret@host`` -> ``redis://***@host``: never show a password."""
    return re.sub(r"^([a-z0-9+.-]+://)[^@/]*@", r"\1***@", url, flags=re.IGNORECASE)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _port_problem(url: str) -> str | None:
    try:
        urlsplit(url).port  # noqa: B018 - parsing it is the check
    except ValueError as exc:
        return str(exc).replace("Port could not be cast to integer value as", "the port is not a number:")
    return None


def store_problem(url: str) -> str | None:
    """``--store``: memory://, sqlite:///path or redis://host:port/db."""
    shown = mask_url(url)
    scheme = _scheme(url)
    if scheme == "memory":
        return None if url.lower() == "memory://" else f"must be just memory:// (no path or options), got {shown!r}"
    if scheme == "sqlite":
        rest = url.split("://", 1)[1]
        if rest.startswith("/") and rest.strip("/"):
            return None
        if rest.strip("/"):  # sqlite://gw.db: two slashes, so the file name would be read as a host
            name = rest.rsplit("/", 1)[-1]
            return (
                f"must be sqlite:/// and a path (three slashes), got {shown!r}; use sqlite:///{rest} (relative "
                f"to the working directory) or sqlite:////absolute/path/{name}"
            )
        return f"must name a file: sqlite:///relative/path.db or sqlite:////absolute/path.db, got {shown!r}"
    if scheme in ("redis", "rediss"):
        return redis_problem(url)
    return f"must be {STORE_FORMS}, got {shown!r}"


def redis_problem(url: str) -> str | None:
    """A ``redis://`` or ``rediss://`` URL with a host, a numeric port and database, known options."""
    shown = mask_url(url)
    if _scheme(url) not in ("redis", "rediss"):
        return f"must be {REDIS_FORMS}, got {shown!r}"
    parts = urlsplit(url)
    if not parts.hostname:
        return f"must be {REDIS_FORMS} (a host is missing), got {shown!r}"
    port = _port_problem(url)
    if port:
        return f"must be {REDIS_FORMS} ({port}), got {shown!r}"
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return f"must be {REDIS_FORMS} (the database after the port is a number), got {shown!r}"
    from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS

    known = {"prefix", *URL_QUERY_ARGUMENT_PARSERS}
    unknown = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)} - known)
    if unknown:
        return f"has unknown option(s) {', '.join(unknown)} (known: prefix and redis-py's), got {shown!r}"
    prefix = next((v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "prefix"), "")
    if re.search(r"[{}\s]", prefix):
        return f"has a prefix with braces or spaces (?prefix=letters-digits), got {shown!r}"
    return None


def content_problem(url: str) -> str | None:
    """``--content-store``: file://DIR or s3://bucket[/prefix]."""
    if url.startswith("file://"):
        return None if url[len("file://") :] else f"needs a directory: {CONTENT_FORMS}, got {url!r}"
    if url.startswith("s3://"):
        bucket = url[len("s3://") :].split("/", 1)[0]
        if 3 <= len(bucket) <= 63:
            return None
        return f"needs a bucket name of 3-63 characters (s3://bucket[/prefix]), got {url!r}"
    return f"must be file://DIR or s3://bucket[/prefix] (file:///absolute/dir, file://relative/dir), got {url!r}"


def http_problem(url: str, example: str = "https://api.openai.com/v1") -> str | None:
    """An ``http://`` or ``https://`` URL with a host and (if any) a numeric port."""
    if not url.lower().startswith(("http://", "https://")):
        return f"must be an http(s) URL such as {example}, got {url!r}"
    if not urlsplit(url).hostname:
        return f"must be an http(s) URL with a host, such as {example}, got {url!r}"
    port = _port_problem(url)
    if port:
        return f"must be an http(s) URL such as {example} ({port}), got {url!r}"
    return None
