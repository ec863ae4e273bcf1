"""The SSRF guard: a callback URL must be http(s), at most 2 KB, and resolve to public addresses only.

Loopback, private, link-local, shared (CGNAT), reserved, multicast and cloud metadata addresses are
refused unless they lie in ``callback_allow_nets``. Checked when a create names a ``callback_url``
(400 ``invalid_callback_url``) and again before every delivery (DNS may have changed since); a
delivery then connects to exactly the addresses vetted here (:mod:`gateway.webhooks.pinning`), so a
name that resolves differently a moment later (DNS rebinding) changes nothing.

An IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:aabb:ccdd::``) is judged by
that IPv4 address: NAT64 and 6to4 networks carry it there. (Teredo and local-use NAT64 are refused whole.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
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


_V4_IN_LOW_32 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "::/96",  # IPv4-compatible (deprecated; :: and ::1 excepted below)
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, the well-known prefix
    )
)
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64: the IPv4 sits where the operator chose


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to (see the module's note), or None."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if int(ip) > 1 and any(ip in net for net in _V4_IN_LOW_32):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _plain(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        return embedded_ipv4(ip) or ip
    return ip


def forbidden(ip: IPAddress) -> str | None:
    """What is wrong with sending to ``ip`` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip in NAT64_LOCAL:
        return "a local-use NAT64 address"
    ip = _plain(ip)
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "a private or reserved address"
    return None


def _shown(ip: IPAddress) -> str:
    plain = _plain(ip)
    return str(ip) if plain == ip else f"{ip} (which carries {plain})"


@dataclass(frozen=True)
class Vetted:
    """A URL that may receive callbacks, with every address its host resolved to (each allowed): the
    only addresses a delivery may connect to."""

    host: str
    port: int
    addresses: tuple[str, ...]


class CallbackGuard:
    def __init__(self, allow_nets: tuple[IPNetwork, ...] = ()) -> None:
        self.allow_nets = allow_nets

    def allowed(self, ip: IPAddress) -> bool:
        ip = _plain(ip)
        return any(ip.version == net.version and ip in net for net in self.allow_nets)

    async def problem(self, url: str) -> str | None:
        """Why ``url`` may not receive callbacks, or None."""
        vetted = await self.vet(url)
        return vetted if isinstance(vetted, str) else None

    async def vet(self, url: str) -> Vetted | str:
        """The addresses ``url`` may be sent to, or why it may not receive callbacks."""
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
                return f"the host {host!r} resolves to {_shown(ip)}, {reason}"
        return Vetted(host, port, tuple(dict.fromkeys(str(ip) for ip in addresses)))

    async def check(self, url: str, param: str = "callback_url") -> None:
        """Raise the client's 400 ``invalid_callback_url`` when ``url`` may not receive callbacks."""
        reason = await self.problem(url)
        if reason is not None:
            raise ApiError(400, f"Invalid '{param}': {reason}.", param=param, code="invalid_callback_url")
