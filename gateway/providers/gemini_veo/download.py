"""Fetching a Veo video once: the file URI with the key, then its redirect without it.

A finished operation names the video as ``https://generativelanguage.googleapis.com/v1beta/files/
{id}:download?alt=media``, which needs the API key (docs: "Download the video" in
https://ai.google.dev/gemini-api/docs/video). As the ``google-genai`` SDK does (``files.download``:
``files/{id}:download?alt=media`` on its own base URL), the file is asked for at the configured base,
so the key only ever goes to the host the operator configured. The answer is the video, or a
redirect to a signed storage URL: that one is followed WITHOUT the key (a signed URL needs none; the
key must never reach a third party). A signed URL that answers 403/404 (expired between the two
hops: GCS answers 400 ExpiredToken, 403 or 404) is fetched again through the file URI once, for a fresh one.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import httpx

from gateway.observability import UPSTREAM_CALLS, UPSTREAM_LATENCY
from gateway.upstreams.base import ContentStream, UpstreamError
from gateway.upstreams.http import NETWORK_ERRORS, UpstreamHttp

FILE_ID = re.compile(r"/files/([A-Za-z0-9_-]+)(?::download)?(?:[?#]|$)")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
KEEP = ("content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified")
MAX_HOPS = 5


def file_id(uri: str) -> str | None:
    """``…/v1beta/files/qu4d28uipuqh:download?alt=media`` -> ``qu4d28uipuqh``."""
    match = FILE_ID.search(urlsplit(uri).path + "?")
    return match.group(1) if match else None


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


async def _send(http: UpstreamHttp, url: str, headers: dict[str, str], params: dict[str, str] | None) -> httpx.Response:
    """One GET, streamed; a non-2xx/3xx answer becomes the provider's :class:`UpstreamError`."""
    started = time.perf_counter()
    request = http.client.build_request("GET", url, params=params, headers=headers)
    try:
        response = await http.client.send(request, stream=True)
    except NETWORK_ERRORS as exc:
        UPSTREAM_CALLS.labels(http.upstream, "content", "error").inc()
        raise UpstreamError(0, f"upstream unreachable ({type(exc).__name__})") from None
    UPSTREAM_CALLS.labels(http.upstream, "content", str(response.status_code)).inc()
    UPSTREAM_LATENCY.labels(http.upstream, "content").observe(time.perf_counter() - started)
    if response.status_code >= 400:
        await response.aread()
        await response.aclose()
        raise http.errors(response)
    return response


async def fetch(keyed: UpstreamHttp, keyless: UpstreamHttp, uri: str, range_header: str | None) -> ContentStream:
    """The video behind a file URI, as one open stream."""
    headers = {"Range": range_header} if range_header else {}
    ident = file_id(uri)
    for attempt in range(2):
        try:
            if ident is not None:  # the SDK's way: the file on the configured base, with the key
                response = await _send(keyed, f"/files/{ident}:download", headers, {"alt": "media"})
            else:  # an unexpected URI: the key only where the operator sent it
                client = keyed if same_origin(uri, str(keyed.client.base_url)) else keyless
                response = await _send(client, uri, headers, None)
        except UpstreamError as exc:
            if exc.status == 404:  # Veo keeps a generated video 2 days
                raise UpstreamError(
                    404, f"{exc.message} (gone: Veo keeps videos 2 days)", code="content_expired"
                ) from None
            raise
        try:
            for _ in range(MAX_HOPS):
                if response.status_code not in REDIRECTS:
                    break
                location = response.headers.get("location", "")
                await response.aclose()
                if not location:
                    raise UpstreamError(502, "Veo's download redirected nowhere.", code="upstream_error")
                target = str(response.url.join(location))
                response = await _send(keyless, target, headers, None)  # a signed URL: never the key
            else:
                await response.aclose()
                raise UpstreamError(502, "Veo's download redirected too many times.", code="upstream_error")
        except UpstreamError as exc:
            if attempt == 0 and 400 <= exc.status < 500:  # a signed URL gone stale: ask the file URI again
                continue
            raise
        return ContentStream(
            status=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() in KEEP},
            chunks=response.aiter_bytes(65536),
            closer=response.aclose,
        )
    raise UpstreamError(404, "Veo's video could not be fetched.", code="content_expired")  # pragma: no cover
