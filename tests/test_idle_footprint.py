"""An idle gateway has not loaded PyAV or numpy (gateway/media/lazy.py): they load at the first media work.

Checked in a fresh interpreter (the test workers have long imported both): start the app, answer a poll, and
the modules are still absent; ask ``/v1/models`` (it says whether WebM can be made) and PyAV is loaded, and
WebM is offered as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import asyncio, json, sys, tempfile, pathlib
from gateway.app import create_app
from gateway.config import Settings

root = pathlib.Path(tempfile.mkdtemp()); (root / "tenants").mkdir()
settings = Settings(store="memory://", policies=str(root), allow_anonymous=True, data_dir=str(root / "data"),
                    upstream="http://127.0.0.1:9/v1", upstream_profile="openai-2025-10")
app = create_app(settings)

async def get(path):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"gw")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    sent = []
    async def receive(): return {"type": "http.request", "body": b"", "more_body": False}
    async def send(m): sent.append(m)
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

async def main():
    out = {}
    async with app.router.lifespan_context(app):
        out["poll"] = (await get("/v1/videos/video_00000000000000000000000000000000"))[0]
        out["idle"] = sorted(m for m in ("av", "numpy") if m in sys.modules)
        status, body = await get("/v1/models")
        out["models"] = status
        out["webm"] = all("webm" in m["capabilities"]["output_formats"] for m in json.loads(body)["data"])
        out["after_models"] = sorted(m for m in ("av", "numpy") if m in sys.modules)
    print(json.dumps(out))

asyncio.run(main())
"""


def test_pyav_and_numpy_load_at_first_use_not_at_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["poll"] == 404 and out["idle"] == [], out  # started and answered: neither module loaded
    assert out["models"] == 200 and out["webm"] and "av" in out["after_models"], out
