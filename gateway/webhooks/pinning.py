"""Deliveries connect to the addresses the SSRF guard vetted, never to a second DNS answer.

The guard resolves a callback's host and checks every address; if the HTTP client then resolved the
host again to connect, a name with a short TTL could answer a public address to the guard and
``127.0.0.1`` to the client (DNS rebinding). So the delivery client resolves nothing itself: its
aiohttp connector's resolver (:class:`PinnedResolver`) answers with the vetted addresses of the
delivery being sent (a context variable set by :func:`pinned` around the request), and refuses
any host it was not given.

Why aiohttp's resolver and not the other ways to pin: the URL keeps its hostname, so the ``Host``
header, TLS SNI and certificate verification are all for that name, exactly as without pinning;
the connection pool is keyed by that name too, so a kept-alive connection only ever serves the
host it was opened (and verified) for; and aiohttp still tries every vetted address in turn
(happy eyeballs). Rewriting the URL to the IP with httpx's ``sni_hostname`` extension would do
SNI and verification right, but httpcore pools by IP, so a connection verified for one name could
carry another name's delivery; a custom httpcore network backend would need httpx's private
transport internals. The delivery client stays httpx's API (httpx-aiohttp carries it, as for the
upstreams), so the sender's code did not change shape.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from contextvars import ContextVar

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport
from yarl import URL

from gateway.webhooks.urls import Vetted

_PIN: ContextVar[tuple[str, tuple[str, ...]] | None] = ContextVar("webhook_pin", default=None)


def _host_key(host: str) -> str:
    """A host as aiohttp hands it to the resolver (IDNA-encoded, lower case, no trailing dot)."""
    try:
        return (URL.build(scheme="http", host=host).raw_host or host).lower().rstrip(".")
    except ValueError:
        return host.lower().rstrip(".")


class PinnedResolver(AbstractResolver):
    """Answers only with the addresses pinned for the current delivery; anything else is refused."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pin = _PIN.get()
        if pin is None or pin[0] != _host_key(host):
            raise OSError(f"{host!r} was not vetted by the callback guard; not connecting")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in pin[1]
        ]

    async def close(self) -> None:
        return None


@contextlib.contextmanager
def pinned(vetted: Vetted) -> Iterator[None]:
    """Within this block, a delivery to ``vetted.host`` connects to ``vetted.addresses`` only."""
    token = _PIN.set((_host_key(vetted.host), vetted.addresses))
    try:
        yield
    finally:
        _PIN.reset(token)


def delivery_client(
    timeout_s: float, headers: dict[str, str], *, verify: ssl.SSLContext | None = None, connections: int = 100
) -> httpx.AsyncClient:
    """The httpx client deliveries go through: no DNS of its own, no proxy from the environment, no redirects.
    Certificates are verified as httpx does (its CA bundle) unless ``verify`` says otherwise."""
    context = verify or httpx.create_ssl_context()

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(resolver=PinnedResolver(), use_dns_cache=False, limit=connections, ssl=context)
        return aiohttp.ClientSession(connector=connector, trust_env=False)

    return httpx.AsyncClient(
        transport=AiohttpTransport(client=session, trust_env=False),
        timeout=timeout_s,
        follow_redirects=False,
        headers=headers,
        trust_env=False,
    )
