"""A tiny webhook receiver on 127.0.0.1 for the tests: records every request, answers as told."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """``fail_first``: answer 500 to that many requests first (per path), then 200. ``script``: what to do
    with the next requests, in order (any path): ``"500"``, ``"slow"`` (answer after ``slow_s``, too late),
    ``"reset"`` (close the connection without an answer); then as ``fail_first`` says."""

    fail_first: int = 0
    script: list[str] = field(default_factory=list)
    slow_s: float = 3.0
    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None  # set: HTTPS (``server_names`` records the SNI of each handshake)
    server_names: list[str | None] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with owner.lock:
                    seen = sum(1 for r in owner.received if r.path == self.path)
                    action = owner.script.pop(0) if owner.script else ("500" if seen < owner.fail_first else "200")
                    status = {"slow": 0, "reset": -1}[action] if action in ("slow", "reset") else int(action)
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    owner.received.append(Received(self.path, headers, body, status))
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if action == "slow":
                    time.sleep(owner.slow_s)
                    status = 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)  # type: ignore[assignment,func-returns-value]
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.server.server_address[1]}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def acked(self, path: str) -> list[Received]:
        return [r for r in self.at(path) if r.status == 200]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
