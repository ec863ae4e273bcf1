"""One pure-ASGI middleware for every request: request id, body limit, access log, metrics, last-resort errors.

Each request gives exactly one ``request`` log event (request id, method, route,
status, tenant, video id, upstream profile, latency) and one sample in
``sora_gateway_requests_total`` / ``sora_gateway_request_duration_seconds``.
Labels stay bounded: the route is the endpoint's name (``unmatched`` for a 404),
unknown methods become ``OTHER``, the tenant is a policy name or ``-``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.ids import new_request_id
from gateway.observability import REQUEST_LATENCY, REQUESTS, log
from gateway.store.base import StoreError

SKIP_LOG = {"/metrics", "/healthz", "/readyz"}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
VIDEO_ID = re.compile(rb'"id"\s*:\s*"(video_[0-9a-f]{8,64})"')


def _error_body(message: str, type_: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


def request_id_of(headers: dict[bytes, bytes]) -> str:
    """The client's ``x-request-id`` when it is a sane token, else a fresh one."""
    given = headers.get(b"x-request-id", b"").decode("latin-1").strip()
    return given if REQUEST_ID.fullmatch(given) else new_request_id()


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_of(headers)
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "started": False, "video_id": None}
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            message = f"Request body of {int(declared)} bytes exceeds the limit of {self.max_body_bytes} bytes."
            state["status"] = 413
            await self._reply(send, 413, _error_body(message, "invalid_request_error", "request_too_large"), request_id)
            self._observe(scope, state, started)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge()
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                state["json"] = any(
                    k.lower() == b"content-type" and b"json" in v for k, v in message.get("headers", ())
                )
                extra = [(b"x-request-id", request_id.encode("latin-1"))]
                present = {k.lower() for k, _ in message.get("headers", ())}  # e.g. x-ratelimit-* set by a stage
                for name, value in ((scope.get("state") or {}).get("response_headers") or {}).items():
                    if name.lower().encode("latin-1") not in present:
                        extra.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                message["headers"] = [*message.get("headers", []), *extra]
            elif message["type"] == "http.response.body" and state.get("json") and state["video_id"] is None:
                found = VIDEO_ID.search(message.get("body", b"")[:512])
                state["video_id"] = found.group(1).decode() if found else ""
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _TooLarge:
            if not state["started"]:
                state["status"] = 413
                message = f"Request body exceeds the limit of {self.max_body_bytes} bytes."
                body = _error_body(message, "invalid_request_error", "request_too_large")
                await self._reply(send, 413, body, request_id)
        except StoreError as exc:
            log.error("store_unavailable", path=scope.get("path"), error=str(exc))
            if not state["started"]:
                state["status"] = 503
                message = "The gateway's store is unavailable; try again shortly."
                await self._reply(send, 503, _error_body(message, "server_error", "store_unavailable"), request_id)
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"))
            if not state["started"]:
                state["status"] = 500
                message = "The gateway had an internal error; the request id is " + request_id
                await self._reply(send, 500, _error_body(message, "server_error", "internal_error"), request_id)
        finally:
            self._observe(scope, state, started)
            structlog.contextvars.clear_contextvars()

    @staticmethod
    async def _reply(send: Send, status: int, body: bytes, request_id: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _observe(scope: Scope, state: dict[str, Any], started: float) -> None:
        elapsed = time.perf_counter() - started
        endpoint = scope.get("endpoint")
        route = getattr(endpoint, "__name__", "unmatched")
        tenant = (scope.get("state") or {}).get("tenant", "-")
        method = scope.get("method", "GET")
        method = method if method in METHODS else "OTHER"
        REQUESTS.labels(route, method, str(state["status"]), tenant).inc()
        REQUEST_LATENCY.labels(route, method).observe(elapsed)
        path = str(scope.get("path", ""))
        if path in SKIP_LOG:
            return
        video_id = (scope.get("path_params") or {}).get("video_id") or state["video_id"] or None
        log.info(
            "request",
            method=method,
            route=route,
            path=path[:256],
            status=state["status"],
            tenant=tenant,
            video_id=str(video_id)[:80] if video_id else None,
            upstream=_upstream_profile(scope) if path.startswith("/v1/video") else None,
            latency_ms=round(elapsed * 1000, 2),
        )


def _upstream_profile(scope: Scope) -> str | None:
    app = scope.get("app")
    ctx = getattr(getattr(app, "state", None), "ctx", None)
    upstream = getattr(ctx, "upstream", None)
    caps = getattr(upstream, "caps", None)
    return getattr(caps, "profile", None)


class _TooLarge(Exception):
    pass
