"""One pooled HTTP client per upstream: auth header, timeouts, error mapping, metrics.

The upstream key lives only in the client's default headers; it never reaches
an exception message, a log line or a response.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from gateway.errors import ApiError
from gateway.observability import UPSTREAM_CALLS, UPSTREAM_LATENCY, log
from gateway.upstreams.base import ContentStream, UpstreamError

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _retry_after(response: httpx.Response) -> float | None:
    for header in ("retry-after-ms", "retry-after"):
        value = response.headers.get(header)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000 if header.endswith("ms") else seconds
    return None


def error_from_response(response: httpx.Response) -> UpstreamError:
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
        retry_after=_retry_after(response),
    )


class UpstreamHttp:
    def __init__(
        self, base_url: str, auth_headers: dict[str, str], *, upstream: str, params: dict[str, str] | None = None
    ) -> None:
        self.upstream = upstream
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={**auth_headers, "User-Agent": "sora-gateway"},
            params=params,
            timeout=DEFAULT_TIMEOUT,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    def _observe(self, operation: str, status: int | str, started: float) -> None:
        UPSTREAM_CALLS.labels(self.upstream, operation, str(status)).inc()
        UPSTREAM_LATENCY.labels(self.upstream, operation).observe(time.perf_counter() - started)

    async def request(self, method: str, path: str, *, operation: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self._observe(operation, "error", started)
            log.warning("upstream_unreachable", upstream=self.upstream, operation=operation, error=type(exc).__name__)
            code = "connect_failed" if isinstance(exc, httpx.ConnectError) else None  # the request never left
            raise UpstreamError(0, f"upstream unreachable ({type(exc).__name__})", code=code) from None
        self._observe(operation, response.status_code, started)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    async def stream(
        self, path: str, *, operation: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> ContentStream:
        started = time.perf_counter()
        request = self.client.build_request("GET", path, params=params, headers=headers)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._observe(operation, "error", started)
            raise UpstreamError(0, f"upstream unreachable ({type(exc).__name__})") from None
        self._observe(operation, response.status_code, started)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise error_from_response(response)
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
    """What both adapters share: their :class:`UpstreamHttp`, the model list, closing, pass-through refusals."""

    http: UpstreamHttp

    async def list_models(self) -> list[dict[str, Any]]:
        response = await self.http.request("GET", "/models", operation="models")
        return list(response.json().get("data", []))

    async def close(self) -> None:
        await self.http.close()

    @staticmethod
    def refusal(
        status: int, message: str, *, type: str | None = None, param: str | None = None, code: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """A pass-through answer in OpenAI's error shape."""
        return status, ApiError(status, message, type=type or "invalid_request_error", param=param, code=code).body()
