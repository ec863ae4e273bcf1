"""What an ``input_reference.image_url`` may be: an ``https://`` URL on a public host, or a ``data:image/…`` URI.

The URL is handed on to whoever fetches the image (the upstream, or an adapter that downloads it), so the door
refuses what must never be fetched: another scheme (``file://``, ``http://``, ``gopher://``), and a host that
*is* a loopback, private, link-local or cloud metadata address, written in any form a fetcher would read
(``127.0.0.1``, ``127.1``, ``0x7f000001``, ``2130706433``, ``[::1]``, ``[::ffff:169.254.169.254]``,
``localhost``). The address rules are the callback guard's (:func:`gateway.webhooks.urls.forbidden`). A name
is not resolved here: what it resolves to is checked where it is fetched, as every callback delivery is.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from gateway.webhooks.urls import MAX_URL_BYTES, forbidden

DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]*$", re.ASCII | re.IGNORECASE)
LOCAL_NAMES = ("localhost", "localhost.localdomain", "metadata", "metadata.google.internal", "instance-data")
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-Fx.]+$", re.ASCII)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as the address a fetcher would connect to, when it is written as one (any IPv4 shorthand)."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and any(c.isdigit() for c in host):
        try:  # inet_aton reads what curl and libc read: 127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def image_url_problem(url: str) -> str | None:
    """Why ``url`` may not be an ``input_reference.image_url`` (None: it may)."""
    if url.startswith("data:"):
        return None if DATA_URI.match(url) else "a data URI must look like data:image/png;base64,<data>"
    if len(url.encode()) > MAX_URL_BYTES:
        return f"the URL is longer than {MAX_URL_BYTES} bytes"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() != "https":
        return "expected an https:// URL or a data:image/...;base64, URI"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return f"the host {host!r} is a local name"
    address = _address(host)
    if address is not None and (reason := forbidden(address)) is not None:
        return f"the host {host!r} is {reason}"
    return None
