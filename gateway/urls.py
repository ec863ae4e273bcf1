"""URLs as they may be shown: an operator's URL can carry credentials (``http://user:PASS@host/v1``,
``...?key=...``), and /readyz, the console and the logs show upstream URLs.

:func:`redact_url` masks the userinfo and the values of secret-looking query parameters;
:func:`url_secrets` lists those values so the log scrubber masks them wherever else they turn up.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from gateway.observability import register_secret

MASK = "***"
# query parameters whose value is a credential (Gemini's ``key=``, ``api_key``, ``access_token``, ``sig``, ...)
SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|sig|auth|credential|session", re.IGNORECASE)


def _split(url: str) -> tuple[str, str, str, str, str] | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment


def _pairs(query: str) -> list[tuple[str, str, str, bool]]:
    """``(name, "=" or "", value, secret)`` for each item of a query string, in order."""
    pairs = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        pairs.append((name, eq, value, bool(eq and value) and SECRET_PARAM.search(unquote(name)) is not None))
    return pairs


def redact_url(url: str) -> str:
    """``url`` with its userinfo and secret query values replaced by ``***`` (host, port and path kept)."""
    split = _split(url)
    if split is None:
        return MASK if "@" in url or "?" in url else url  # not a URL: show nothing that might be a secret
    scheme, netloc, path, query, fragment = split
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    if query:
        query = "&".join(name + eq + (MASK if secret else value) for name, eq, value, secret in _pairs(query))
    return urlunsplit((scheme, netloc, path, query, fragment))


def url_secrets(url: str) -> list[str]:
    """The credentials in ``url`` (the userinfo, its password, secret query values), raw and decoded."""
    split = _split(url)
    if split is None:
        return []
    _, netloc, _, query, _ = split
    found: list[str] = []
    if "@" in netloc:
        userinfo = netloc.rpartition("@")[0]
        found += [userinfo + "@", userinfo.partition(":")[2]]
    found += [value for _, _, value, secret in _pairs(query) if secret]
    return sorted({v for raw in found if raw for v in (raw, unquote(raw))}, key=len, reverse=True)


def register_url_secrets(*urls: str | None) -> None:
    """Mask the credentials in these URLs in every log line (as the upstream key is)."""
    for url in urls:
        for secret in url_secrets(url or ""):
            register_secret(secret)
