"""A profile from an upstream URL's host: the providers' public API hosts (``Provider.hosts``).

An ``upstreams:`` entry may leave ``profile`` out. Then the URL's host decides (:func:`profile_for_url`):

- a provider's public API host (``api.minimax.io``, ``ark.ap-southeast.bytepluses.com``; ``.maas.aliyuncs.com``
  in a provider's list means any host under it) names that provider: its one profile, pinned; a provider with
  a probe (OpenAI's two versions, Azure) keeps live detection (:mod:`gateway.upstreams.detect`) as before;
- a local or private host (``127.0.0.1``, ``localhost``, a private or link-local address, a name without a dot
  such as a compose service, or a reserved name: ``.local``, ``.internal``, ``.test``, ``.example``, ...):
  live detection, as before (the simulator lives there);
- any other (public) host: :class:`UnknownHost`, a start-up error at the entry's line, since no probe can
  recognise those providers for free and a guess would speak the wrong dialect to a paid API.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

RESERVED_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa", ".test", ".example", ".invalid")


class UnknownHost(ValueError):
    pass


@dataclass(frozen=True)
class HostEntry:
    name: str  # the provider
    hosts: tuple[str, ...]
    profiles: tuple[str, ...]
    probes: bool = False  # it has a probe: detected live even at its own host


def is_local(host: str) -> bool:
    """A host no public provider lives at: loopback, private, link-local, a bare name, a reserved name."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host or host == "localhost" or host.endswith(RESERVED_SUFFIXES)
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower()
    return host.endswith(pattern) if pattern.startswith(".") else host == pattern


def profile_for_url(url: str, providers: Sequence[HostEntry]) -> str | None:
    """The profile ``url``'s host names, or ``None``: detect it live. Raises :class:`UnknownHost` for a
    public host no provider lists."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if is_local(host):
        return None
    for provider in providers:
        if any(matches(host, pattern) for pattern in provider.hosts):
            return provider.profiles[0] if len(provider.profiles) == 1 and not provider.probes else None
    profiles = ", ".join(p for provider in providers for p in provider.profiles)
    raise UnknownHost(
        f"{host} is not a provider's public API host, so the URL does not tell its profile; "
        f"name it with profile: (one of {profiles})"
    )
