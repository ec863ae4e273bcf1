"""One pooled HTTP client per upstream: auth header, timeouts, error mapping, metrics.

The upstream key lives only in the client's default headers; it never reaches
an exception message, a log line or a response.

Transport (``upstream_transport``): httpx's API throughout, carried by aiohttp (``httpx-aiohttp``) by
default. Measured against a canned nginx upstream, 16 requests at a time, CPU per proxied create:
httpx's own transport 3.5 ms, httpx on aiohttp 0.8 ms, plain aiohttp 0.3 ms (benchmarks/README.md).
``httpx`` keeps httpx's own transport (it also honours the ``HTTP(S)_PROXY`` environment variables,
which the aiohttp transport does not).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.errors import ApiError
from gateway.observability import UPSTREAM_CALLS, UPSTREAM_LATENCY, log
from gateway.upstreams.base import ContentStream, ListPage, UpstreamError, UpstreamVideo

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
LIST_PAGES_MAX = 20  # at most this many listing pages back (2000 videos) when looking for a lost create
TRANSPORTS = ("aiohttp", "httpx")
# what a transport may raise besides httpx's own errors (httpx-aiohttp maps most, not all, of aiohttp's)
NETWORK_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError, OSError)
_transport = "aiohttp"


def use_transport(name: str) -> None:
    """Pick the transport of every upstream client made from now on (the ``upstream_transport`` setting)."""
    global _transport
    if name not in TRANSPORTS:
        raise ValueError(f"unknown upstream transport {name!r}; expected one of {', '.join(TRANSPORTS)}")
    _transport = name


def never_left(exc: BaseException) -> bool:
    """A refused (or unresolvable) connect: the request surely never reached the upstream.

    httpx says so with ``ConnectError``; aiohttp with ``ClientConnectorError``, which httpx-aiohttp
    re-raises as ``httpx.ConnectTimeout`` from it, hence the look at the cause too.
    """
    return any(isinstance(e, (httpx.ConnectError, aiohttp.ClientConnectorError)) for e in (exc, exc.__cause__))


def _make_transport() -> httpx.AsyncBaseTransport | None:
    return AiohttpTransport(limits=LIMITS) if _transport == "aiohttp" else None


def retry_after_of(response: httpx.Response) -> float | None:
    """The seconds a refusal asks to wait (``retry-after-ms`` or ``retry-after`` as seconds), when sane."""
    for header in ("retry-after-ms", "retry-after"):
        value = response.headers.get(header)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds >= 0:
                return seconds / 1000 if header.endswith("ms") else seconds
    return None


BY_STATUS = {  # what an HTTP status means when a provider's body says nothing more precise
    400: (400, "invalid_value"),
    422: (400, "invalid_value"),
    401: (401, "invalid_api_key"),
    402: (429, "quota_exhausted"),  # the account's balance: another upstream may serve it
    403: (403, "permission_denied"),
    404: (404, "not_found"),
    429: (429, "rate_limited"),
}


def by_status(
    status: int, message: str, *, retry_after: float | None = None, param: str | None = None
) -> UpstreamError:
    """A refusal read from its HTTP status alone (:data:`BY_STATUS`; anything else ``upstream_error``)."""
    answered, code = BY_STATUS.get(status, (status, "upstream_error"))
    kind = "invalid_request_error" if code == "invalid_value" else None
    return UpstreamError(answered, message, type=kind, code=code, param=param, retry_after=retry_after)


def error_from_response(response: httpx.Response) -> UpstreamError:
    """An ``{"error": {"message", "type", "code", "param"}}`` refusal (the OpenAI family's, and the gateway's)."""
    try:
        err = response.json().get("error") or {}
        if not isinstance(err, dict):
            err = {"message": str(err)}
    except (ValueError, AttributeError):
        err = {}
    message = str(err.get("message") or f"upstream answered HTTP {response.status_code}")
    return UpstreamError(
        response.status_code,
        message,
        type=err.get("type"),
        code=err.get("code"),
        param=err.get("param"),
        retry_after=retry_after_of(response),
    )


ErrorReader = Callable[[httpx.Response], UpstreamError]


class UpstreamHttp:
    """``errors`` reads a refusal in the provider's own envelope (default: :func:`error_from_response`)."""

    def __init__(
        self,
        base_url: str,
        auth_headers: dict[str, str],
        *,
        upstream: str,
        params: dict[str, str] | None = None,
        errors: ErrorReader = error_from_response,
    ) -> None:
        self.upstream = upstream
        self.errors = errors
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={**auth_headers, "User-Agent": "sora-gateway"},
            params=params,
            timeout=DEFAULT_TIMEOUT,
            limits=LIMITS,
            transport=_make_transport(),
        )

    def _observe(self, operation: str, status: int | str, started: float) -> None:
        UPSTREAM_CALLS.labels(self.upstream, operation, str(status)).inc()
        UPSTREAM_LATENCY.labels(self.upstream, operation).observe(time.perf_counter() - started)

    async def request(self, method: str, path: str, *, operation: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, path, **kwargs)
        except NETWORK_ERRORS as exc:
            self._observe(operation, "error", started)
            log.warning("upstream_unreachable", upstream=self.upstream, operation=operation, error=type(exc).__name__)
            code = "connect_failed" if never_left(exc) else None  # the request never left
            raise UpstreamError(0, f"upstream unreachable ({type(exc).__name__})", code=code) from None
        self._observe(operation, response.status_code, started)
        if response.status_code >= 400:
            raise self.errors(response)
        return response

    async def stream(
        self, path: str, *, operation: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> ContentStream:
        started = time.perf_counter()
        request = self.client.build_request("GET", path, params=params, headers=headers)
        try:
            response = await self.client.send(request, stream=True)
        except NETWORK_ERRORS as exc:
            self._observe(operation, "error", started)
            raise UpstreamError(0, f"upstream unreachable ({type(exc).__name__})") from None
        self._observe(operation, response.status_code, started)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise self.errors(response)
        keep = ("content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified")
        return ContentStream(
            status=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() in keep},
            chunks=response.aiter_bytes(65536),
            closer=response.aclose,
        )

    async def close(self) -> None:
        await self.client.aclose()


class HttpAdapter:
    """What every adapter shares: its :class:`UpstreamHttp`, paging back, closing, pass-through refusals."""

    http: UpstreamHttp
    name: str
    title = "this"  # the provider as people call it, in refusals ("not offered by the Runway upstream")
    lists = False  # a dialect with a listing says True and implements list_page
    callbacks = False  # a dialect whose provider calls GenerationSpec.callback_url back says True

    def callback_reply(self, body: Any) -> Any | None:
        """No handshake: a callback is answered with an empty 200."""
        return None

    async def list_page(self, after: str | None = None) -> ListPage:
        """No listing: the sweep polls each job on its own; a lost create cannot be looked up (the job fails
        ``upstream_outcome_unknown`` rather than be sent again blind)."""
        raise UpstreamError(405, f"The {self.name} upstream does not list its generations.", code="no_listing")

    async def list_recent(self, since: float) -> list[UpstreamVideo]:
        """Every listed generation made at or after ``since``: pages of :meth:`list_page` (newest first),
        continued with ``after`` while a page still reaches back that far."""
        found: list[UpstreamVideo] = []
        after: str | None = None
        for _ in range(LIST_PAGES_MAX):
            page = await self.list_page(after)
            videos = page.videos
            found += [v for v in videos if v.created_at is not None and v.created_at >= since]
            oldest = min((v.created_at for v in videos if v.created_at is not None), default=None)
            if not page.has_more or not videos or oldest is None or oldest < since:
                break
            after = videos[-1].id
        return found

    async def moderate(self, text: str) -> dict[str, Any] | None:
        """No moderation endpoint: the provider refuses at create or fails the generation itself."""
        return None

    async def complete_chat(self, model: str, messages: list[dict[str, str]], *, timeout_s: float = 30.0) -> str | None:
        """No chat completion: prompts are enhanced by the configured chat endpoint, or not at all."""
        return None

    async def forward(
        self, method: str, path: str, *, json: Any = None, files: Any = None, data: Any = None
    ) -> tuple[int, Any]:
        """No pass-through of the provider's other routes."""
        return self.refusal(404, f"This operation is not offered by the {self.title} upstream.")

    async def close(self) -> None:
        await self.http.close()

    @staticmethod
    def refusal(
        status: int, message: str, *, type: str | None = None, param: str | None = None, code: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """A pass-through answer in OpenAI's error shape."""
        return status, ApiError(status, message, type=type or "invalid_request_error", param=param, code=code).body()
