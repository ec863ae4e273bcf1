"""Small regression tests for review items 6, 13, 15, 17, 19 and 20 (each fails without its fix)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cachetools import LRUCache
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import server
from gateway.cli import build_parser
from gateway.config import ConfigError, build_settings
from gateway.core.models import Job, Segment
from gateway.errors import ApiError
from gateway.faces.http import error_response, read_body
from gateway.faces.openai_videos import _video_ref
from gateway.middleware import GatewayMiddleware
from gateway.pipeline import coalesce
from gateway.providers.azure_sora1 import dialect as azure_sora1
from gateway.store.memory import MemoryStore
from gateway.upstreams.base import UpstreamVideo

UPSTREAM_SECRET = "sk-upstream-secret-review-19"
ADMIN_SECRET = "admin-secret-review-19"


# -- 6: a malformed ``video`` JSON string is a 400 naming ``video``, not a 500 --------------------
@pytest.mark.parametrize("value", ['{"id": "video_1"', "{not json", '{"id": 5}'])
def test_malformed_video_json_is_a_400_naming_video(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        _video_ref({"video": value})
    assert refused.value.status == 400 and refused.value.param == "video"


# -- 13: the Azure adapter's job -> generation map is a bounded LRU ----------------------------
async def test_azure_generation_ids_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(azure_sora1, "GENERATIONS_MAX", 8)
    adapter = azure_sora1.AzureSora1Upstream("http://127.0.0.1:9/openai/v1", "key")
    try:
        assert isinstance(adapter._generations, LRUCache)
        for i in range(100):
            adapter._remember(UpstreamVideo(id=f"job_{i}", status="completed", content_ids={"generation": f"g_{i}"}))
        assert len(adapter._generations) == 8
        assert await adapter._generation("job_99") == "g_99"

        async def retrieve(upstream_id: str) -> UpstreamVideo:  # a forgotten one is looked up again
            return UpstreamVideo(id=upstream_id, status="completed", content_ids={"generation": "g_again"})

        monkeypatch.setattr(adapter, "retrieve", retrieve)
        assert await adapter._generation("job_0") == "g_again"
    finally:
        await adapter.close()


# -- 15: coalescing followers back off (20 ms, x2, at most 250 ms) -----------------------------
async def test_followers_poll_the_leader_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(coalesce.asyncio, "sleep", fake_sleep)
    monkeypatch.setattr(coalesce.time, "monotonic", lambda: clock[0])
    store = MemoryStore()
    leader = Job(id="video_leader", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4")
    leader.segments = [Segment(index=0, seconds=4, prompt="p")]  # pending: its create is not decided yet
    await store.put(leader)
    inflight = coalesce.InFlight(store, ttl_s=60, wait_s=3.0)
    assert await inflight.claim("key", leader.id)
    settled = await inflight.settle("key", leader.id)
    assert settled is not None and settled.id == leader.id  # given up waiting: follow it anyway
    assert sleeps[:5] == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.25])
    assert max(sleeps) == pytest.approx(0.25)
    assert len(sleeps) <= 16, f"{len(sleeps)} store reads in 3 s: followers must back off"


# -- 17: an oversize chunked multipart body is a 413 (the body limit), not a 400 ------------------
async def test_oversize_chunked_multipart_is_413(tmp_path: Path) -> None:
    async def upload(request: Request) -> Response:
        data = await read_body(request, tmp_path / "uploads")
        return JSONResponse({"fields": sorted(data)})

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    app = Starlette(
        routes=[Route("/upload", upload, methods=["POST"])],
        middleware=[Middleware(GatewayMiddleware, max_body_bytes=64 * 1024)],
        exception_handlers={ApiError: api_error},
    )
    boundary = "review17"

    def body(size: int) -> list[bytes]:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="input_reference"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        return [head, *[b"x" * 8192] * (size // 8192), f"\r\n--{boundary}--\r\n".encode()]

    async def chunked(parts: list[bytes]) -> AsyncIterator[bytes]:  # no content-length: the limit is hit mid-parse
        for part in parts:
            yield part

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        small = await client.post("/upload", content=chunked(body(16 * 1024)), headers=headers)
        assert small.status_code == 200, small.text
        big = await client.post("/upload", content=chunked(body(256 * 1024)), headers=headers)
        assert big.status_code == 413, big.text
        assert big.json()["error"]["code"] == "request_too_large"
        broken = await client.post("/upload", content=b"--nope\r\n\r\n", headers=headers)
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_body"


# -- 19: workers get the settings without the keys, and re-read the keys themselves ---------------
def _serve_args(*flags: str) -> Any:
    return build_parser().parse_args(["serve", *flags])


def test_worker_settings_carry_no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", UPSTREAM_SECRET)
    monkeypatch.setenv("SORA_GATEWAY_ADMIN_KEY", ADMIN_SECRET)
    monkeypatch.setenv(server.SETTINGS_ENV, "")  # restored after the test
    monkeypatch.setattr(server, "_configure", lambda settings: None)
    monkeypatch.setattr(server, "prepare_multiprocess_metrics", lambda: (str(tmp_path), False))
    handed: dict[str, str] = {}

    def fake_run(app: Any, **kw: Any) -> None:
        handed["json"] = server.os.environ[server.SETTINGS_ENV]

    monkeypatch.setattr(server.uvicorn, "run", fake_run)
    args = _serve_args("--workers", "2", "--store", "redis://127.0.0.1:6379/0", "--port", "18080")
    assert server.run_serve(args) == 0
    text = handed["json"]
    assert UPSTREAM_SECRET not in text and ADMIN_SECRET not in text
    data = json.loads(text)
    assert "upstream_api_key" not in data and "admin_key" not in data
    worker = server.settings_from_env()  # what a worker builds: the keys come from its own environment
    assert worker.upstream_api_key == UPSTREAM_SECRET and worker.admin_key == ADMIN_SECRET
    assert worker.workers == 2 and worker.port == 18080


# -- 20: several workers need the Redis quota backend ------------------------------------------
def test_workers_with_in_process_quota_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", UPSTREAM_SECRET)
    for store in (f"sqlite:///{tmp_path / 'gw.db'}", "memory://"):
        with pytest.raises(ConfigError, match="Redis quota backend"):
            build_settings({"workers": 2, "store": store})
    assert build_settings({"workers": 1, "store": f"sqlite:///{tmp_path / 'gw.db'}"}).workers == 1
    assert build_settings({"workers": 2, "store": "redis://127.0.0.1:6379/0"}).workers == 2
    config = tmp_path / "quota.yaml"
    config.write_text("quota_redis: redis://127.0.0.1:6379/1\n")
    assert build_settings({"workers": 3, "config": str(config), "store": "memory://"}).workers == 3


def test_serve_exits_2_for_workers_with_in_process_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", UPSTREAM_SECRET)
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    args = _serve_args("--workers", "2", "--store", f"sqlite:///{tmp_path / 'gw.db'}")
    assert server.run_serve(args) == 2
    assert "--workers 2 needs the Redis quota backend" in capsys.readouterr().err
