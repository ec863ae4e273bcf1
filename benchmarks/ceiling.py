"""The Python ceiling: a bare Starlette app on uvicorn (httptools + uvloop) with no logic.

It answers the same routes the suite drives on the gateway with canned bytes (a poll, a create that
parses its JSON body, a file download), so its figures are what any Python ASGI app could reach on
this machine in this run. ``BENCH_BLOB`` names the file served as content.

    taskset -c 0 python -m uvicorn benchmarks.ceiling:app --http httptools --loop uvloop --no-access-log
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

VIDEO = json.dumps(
    {
        "id": "video_" + "0" * 48,
        "object": "video",
        "model": "sora-2",
        "status": "queued",
        "progress": 0,
        "created_at": 1796000000,
        "completed_at": None,
        "expires_at": None,
        "prompt": "a benchmark",
        "size": "720x1280",
        "seconds": "4",
        "remixed_from_video_id": None,
        "error": None,
        "adapted": [],
    }
).encode()


async def retrieve(request: Request) -> Response:
    return Response(VIDEO, media_type="application/json", headers={"openai-poll-after-ms": "1000"})


async def create(request: Request) -> Response:
    json.loads(await request.body())
    return Response(VIDEO, media_type="application/json")


async def content(request: Request) -> Response:
    return FileResponse(os.environ.get("BENCH_BLOB", "/dev/null"), media_type="video/mp4")


app = Starlette(
    routes=[
        Route("/v1/videos", create, methods=["POST"]),
        Route("/v1/videos/{video_id}", retrieve, methods=["GET"]),
        Route("/v1/videos/{video_id}/content", content, methods=["GET"]),
    ]
)
