"""The SSRF guard: a callback URL must be http(s), at most 2 KB, and resolve to public addresses only.

Loopback, private, link-local, shared (CGNAT), reserved, multicast and cloud metadata addresses are
refused unless they lie in ``callback_allow_nets``. Checked when a create names a ``callback_url``
(400 ``invalid_callback_url``) and again before every delivery (DNS may have changed since).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from gateway.errors import ApiError

MAX_URL_BYTES = 2048
RESOLVE_TIMEOUT_S = 5.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)


class CallbackUrlError(ValueError):
    """Why a URL may not receive callbacks (the text names the rule)."""


def parse_nets(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, 10.1.0.0/16"`` as networks; :class:`ValueError` naming the bad entry."""
    nets = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a CIDR network (e.g. 127.0.0.0/8)") from None
    return tuple(nets)


def _plain(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def forbidden(ip: IPAddress) -> str | None:
    """What is wrong with sending to ``ip`` (None: a public address)."""
    ip = _plain(ip)
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or not ip.is_global:
        return "a private or reserved address"
    return None


class CallbackGuard:
    def __init__(self, allow_nets: tuple[IPNetwork, ...] = ()) -> None:
        self.allow_nets = allow_nets

    def allowed(self, ip: IPAddress) -> bool:
        ip = _plain(ip)
        return any(ip.version == net.version and ip in net for net in self.allow_nets)

    async def problem(self, url: str) -> str | None:
        """Why ``url`` may not receive callbacks, or None."""
        if len(url.encode()) > MAX_URL_BYTES:
            return f"the URL is longer than {MAX_URL_BYTES} bytes"
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "not a valid URL"
        if parts.scheme not in ("http", "https"):
            return "the URL must start with http:// or https://"
        host = parts.hostname
        if not host:
            return "the URL has no host"
        try:
            addresses = [ipaddress.ip_address(host.split("%")[0])]
        except ValueError:
            try:
                infos = await asyncio.wait_for(
                    asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
                )
            except (TimeoutError, OSError, UnicodeError):
                return f"the host {host!r} could not be resolved"
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            return f"the host {host!r} could not be resolved"
        for ip in addresses:
            reason = forbidden(ip)
            if reason and not self.allowed(ip):
                return f"the host {host!r} resolves to {_plain(ip)}, {reason}"
        return None

    async def check(self, url: str, param: str = "callback_url") -> None:
        """Raise the client's 400 ``invalid_callback_url`` when ``url`` may not receive callbacks."""
        reason = await self.problem(url)
        if reason is not None:
            raise ApiError(400, f"Invalid '{param}': {reason}.", param=param, code="invalid_callback_url")
