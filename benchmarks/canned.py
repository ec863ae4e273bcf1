"""A canned upstream (nginx): fixed answers for the OpenAI Videos routes, and the same file the gateway serves.

Two server blocks: ``upstream_port`` is the gateway's upstream (access log on, so the suite can count
what the gateway sent), ``bench_port`` is nginx's own row in the table (no access log). Every create
gets a new upstream id (``$request_id``) and asks not to be polled for a minute, so a create benchmark
measures creates, not the polls that follow them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

_VIDEO = (
    '{"id":"video_$vid","object":"video","model":"sora-2","status":"queued","progress":0,'
    '"created_at":1796000000,"completed_at":null,"expires_at":null,"prompt":"canned","size":"720x1280",'
    '"seconds":"4","remixed_from_video_id":null,"error":null}'
)
_LIST = '{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}'
_MODELS = '{"object":"list","data":[{"id":"sora-2","object":"model"},{"id":"sora-2-pro","object":"model"}]}'

CONFIG = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{upstream_port};
        access_log {root}/nginx-upstream.log;
        location = /v1/videos {{
            set $vid $request_id;
            if ($request_method = GET) {{ return 200 '{list}'; }}
            add_header openai-poll-after-ms 60000;
            return 200 '{video}';
        }}
        location = /v1/models {{ return 200 '{models}'; }}
        location ~ ^/v1/videos/(?<vid>[^/]+)$ {{
            add_header openai-poll-after-ms 60000;
            return 200 '{video}';
        }}
    }}
    server {{
        listen 127.0.0.1:{bench_port};
        access_log off;
        location = /v1/videos {{ set $vid canned; return 200 '{video}'; }}
        location ~ ^/v1/videos/(?<vid>[^/]+)$ {{ add_header openai-poll-after-ms 1000; return 200 '{video}'; }}
        location ~ ^/v1/videos/[^/]+/content$ {{
            default_type video/mp4;
            root {blob_dir};
            rewrite ^ /{blob_name} break;
        }}
    }}
{front}}}
"""

FRONT = """
    server {{
        listen 127.0.0.1:{port};
        access_log off;
        location /_sora_content/ {{ internal; alias {content}/; }}
        location / {{
            proxy_pass http://127.0.0.1:{gateway_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Sora-Gateway-Accel 1;
        }}
    }}
"""


class CannedUpstream:
    def __init__(
        self, root: Path, blob: Path, upstream_port: int, bench_port: int, front: tuple[int, int, Path] | None = None
    ) -> None:
        """``front``: (port, gateway port, content dir): also proxy to the gateway, serving X-Accel-Redirect."""
        self.root, self.blob, self.front = root, blob, front
        self.upstream_port, self.bench_port = upstream_port, bench_port
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("nginx") is not None

    def start(self, cpu: str) -> CannedUpstream:
        conf = self.root / "nginx.conf"
        for path in {self.root, self.blob.parent}:  # nginx's workers run as an unprivileged user
            path.chmod(0o755)
        self.blob.chmod(0o644)
        body = CONFIG.format(
            root=self.root,
            upstream_port=self.upstream_port,
            bench_port=self.bench_port,
            blob_dir=self.blob.parent,
            blob_name=self.blob.name,
            video=_VIDEO,
            list=_LIST,
            models=_MODELS,
            front=FRONT.format(port=self.front[0], gateway_port=self.front[1], content=self.front[2])
            if self.front
            else "",
        )
        conf.write_text(body)
        log = open(self.root / "nginx.out", "ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpu, "nginx", "-c", str(conf), "-p", str(self.root)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.bench_port}/v1/videos/x", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not start; see {self.root}/nginx-error.log")

    def calls(self) -> int:
        """Requests the gateway sent to the canned upstream so far."""
        path = self.root / "nginx-upstream.log"
        return sum(1 for _ in path.open()) if path.exists() else 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
