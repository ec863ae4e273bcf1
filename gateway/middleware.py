"""One pure-ASGI middleware for every request: request id, body limit, access log, metrics, last-resort errors."""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.ids import new_request_id
from gateway.observability import REQUEST_LATENCY, REQUESTS, log

SKIP_LOG = {"/metrics", "/healthz"}


def _error_body(status: int, message: str, type_: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or new_request_id()
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "started": False}
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reply(
                send,
                413,
                _error_body(
                    413,
                    f"Request body of {int(declared)} bytes exceeds the limit of {self.max_body_bytes} bytes.",
                    "invalid_request_error",
                    "request_too_large",
                ),
                request_id,
            )
            state["status"] = 413
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
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _TooLarge:
            if not state["started"]:
                state["status"] = 413
                await self._reply(
                    send,
                    413,
                    _error_body(
                        413,
                        f"Request body exceeds the limit of {self.max_body_bytes} bytes.",
                        "invalid_request_error",
                        "request_too_large",
                    ),
                    request_id,
                )
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"))
            if not state["started"]:
                state["status"] = 500
                await self._reply(
                    send,
                    500,
                    _error_body(
                        500,
                        "The gateway had an internal error; the request id is " + request_id,
                        "server_error",
                        "internal_error",
                    ),
                    request_id,
                )
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
        REQUESTS.labels(route, method, str(state["status"]), tenant).inc()
        REQUEST_LATENCY.labels(route, method).observe(elapsed)
        if scope.get("path") not in SKIP_LOG:
            log.info(
                "request",
                method=method,
                route=route,
                path=scope.get("path"),
                status=state["status"],
                tenant=tenant,
                latency_ms=round(elapsed * 1000, 2),
            )


class _TooLarge(Exception):
    pass
