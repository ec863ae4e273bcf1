"""A small synchronous client for the gateway's ``/v1/videos`` API (httpx), errors as :class:`ClientError`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.config_urls import http_problem

DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"  # sora-gateway demo / serve defaults
VARIANT_SUFFIX = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}


class ClientError(Exception):
    """A failure to report as ``error: message``: the API's own message when it sent one.

    ``transport`` is true when no answer came; ``nothing_sent`` too when no connection was ever made
    (refused, unknown host, connect timeout): then the request surely did not reach the gateway.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        transport: bool = False,
        nothing_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.transport = transport
        self.nothing_sent = nothing_sent


NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)  # no connection: not a byte of the request went out


def _unreachable(base_url: str, exc: httpx.HTTPError) -> ClientError:
    reason = f"{exc.__class__.__name__}: {exc}"
    if isinstance(exc, NOT_CONNECTED):
        return ClientError(f"cannot reach {base_url}: {reason}", transport=True, nothing_sent=True)
    return ClientError(f"cannot reach {base_url}: {reason}", transport=True)


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a base URL (``http(s)://host[:port]/v1``), or ``None``."""
    return http_problem(url, "http://127.0.0.1:8080/v1")


@dataclass
class Video:
    """The fields of a video object the command shows."""

    data: dict[str, Any]
    adapted_header: str | None = None
    cache: str | None = None
    poll_after_ms: int | None = None

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    @property
    def status(self) -> str:
        return str(self.data.get("status", ""))

    @property
    def progress(self) -> int:
        value = self.data.get("progress")
        return int(value) if isinstance(value, int | float) else 0

    @property
    def adapted(self) -> list[str]:
        found = self.data.get("adapted")
        if isinstance(found, list) and found:
            return [str(a) for a in found]
        return [a.strip() for a in (self.adapted_header or "").split(";") if a.strip()]

    @property
    def error_message(self) -> str:
        error = self.data.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        return str(message or "the video failed")


@dataclass
class Connection:
    base_url: str
    api_key: str
    timeout: float = 60.0
    _http: httpx.Client | None = field(default=None, repr=False)

    @classmethod
    def resolve(cls, base_url: str | None, api_key: str | None, *, timeout: float = 60.0) -> Connection:
        """Flags first, then the SDK's variables; no key is a usage problem (raised as ClientError)."""
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        problem = None if base_url else base_url_problem(url)  # --base-url itself is checked by argparse
        if problem:
            raise ClientError(f"OPENAI_BASE_URL {problem}")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ClientError("no API key: pass --api-key or set OPENAI_API_KEY (the key your team got)")
        return cls(url, key, timeout)

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {self.api_key}", "User-Agent": "sora-gateway-client"},
                timeout=self.timeout,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise _unreachable(self.base_url, exc) from None
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def create(self, fields: dict[str, Any], idempotency_key: str) -> Video:
        """POST /videos with an ``Idempotency-Key``: a create that timed out may have been made, so it is
        retried once with the same key (the gateway answers that retry with the first one's video).
        A create that never connected sent nothing: it is not retried, and ``nothing_sent`` says so."""
        body = {k: v for k, v in fields.items() if v is not None}
        headers = {"Idempotency-Key": idempotency_key}
        try:
            response = self.http.post("/videos", json=body, headers=headers)
        except NOT_CONNECTED as exc:
            raise _unreachable(self.base_url, exc) from None
        except httpx.TimeoutException:
            try:
                response = self._send("POST", "/videos", json=body, headers=headers)
            except ClientError as exc:
                exc.nothing_sent = False  # the first attempt may have reached the gateway
                raise
        except httpx.HTTPError as exc:
            raise _unreachable(self.base_url, exc) from None
        if response.status_code >= 400:
            raise _api_error(response)
        return _video(response)

    def retrieve(self, video_id: str) -> Video:
        return _video(self._send("GET", f"/videos/{video_id}"))

    def download(self, video_id: str, path: Path, variant: str = "video") -> int:
        """Stream the content to ``path`` (through a ``.part`` file); the number of bytes written."""
        tmp = path.with_name(path.name + ".part")
        try:
            with self.http.stream("GET", f"/videos/{video_id}/content", params={"variant": variant}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _api_error(response)
                written = 0
                with tmp.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        written += len(chunk)
            tmp.replace(path)
            return written
        except httpx.HTTPError as exc:
            raise ClientError(f"download from {self.base_url} failed: {exc.__class__.__name__}") from None
        finally:  # an error or Ctrl-C leaves no half-written file behind
            tmp.unlink(missing_ok=True)


def _video(response: httpx.Response) -> Video:
    try:
        data = response.json()
    except ValueError:
        status = response.status_code
        raise ClientError(f"the server answered {status} without JSON", status=status) from None
    poll = response.headers.get("openai-poll-after-ms")
    return Video(
        data,
        adapted_header=response.headers.get("x-sora-gateway-adapted"),
        cache=response.headers.get("x-sora-gateway-cache"),
        poll_after_ms=int(poll) if poll and poll.isdigit() else None,
    )


def _api_error(response: httpx.Response) -> ClientError:
    """The API's own message (OpenAI's error shape), else the status line."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if isinstance(error, dict) and error.get("message"):
        return ClientError(str(error["message"]), status=response.status_code, code=error.get("code"))
    return ClientError(f"HTTP {response.status_code} {response.reason_phrase}", status=response.status_code)
