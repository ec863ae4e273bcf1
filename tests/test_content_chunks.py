"""A retained video is sent in 1 MiB reads (faces/openai_videos.VideoFile), whole and in ranges, byte for byte."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from gateway.core.models import Job, Status
from tests.test_fast_polls import KEYS, apps, exchange, job_of  # noqa: F401 - apps: the fixture, shared

MIB = 1024 * 1024


async def download(
    app: Any, path: str, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], list[bytes]]:
    sent = await exchange(app, "GET", path, [(b"authorization", f"Bearer {KEYS['acme']}".encode()), *headers])
    return sent[0]["status"], dict(sent[0]["headers"]), [m.get("body", b"") for m in sent[1:]]


async def test_a_large_video_goes_out_in_mebibyte_chunks_whole_and_ranged(
    apps: tuple[Any, Any, dict[str, Job]],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    fast, _, _ = apps
    ctx = fast.state.ctx
    job = job_of("acme", Status.COMPLETED)
    blob = os.urandom(4 * MIB + 12345)
    source = tmp_path / "made.mp4"
    source.write_bytes(blob)
    await ctx.content.adopt(job.id, "video", source)
    await ctx.store.put(job)

    status, headers, chunks = await download(fast, f"/v1/videos/{job.id}/content", [])
    assert status == 200 and b"".join(chunks) == blob
    assert headers[b"x-content-sha256"] == hashlib.sha256(blob).hexdigest().encode()
    assert len([c for c in chunks if c]) == 5, [len(c) for c in chunks]  # 4 MiB + a tail; 65 at 64 KiB

    first, last = MIB - 7, 3 * MIB + 99
    status, headers, chunks = await download(
        fast, f"/v1/videos/{job.id}/content", [(b"range", f"bytes={first}-{last}".encode())]
    )
    assert status == 206 and b"".join(chunks) == blob[first : last + 1]
    assert headers[b"content-range"] == f"bytes {first}-{last}/{len(blob)}".encode()
    assert len([c for c in chunks if c]) <= 3
