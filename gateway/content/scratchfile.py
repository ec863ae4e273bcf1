"""Stream bytes into a local working file (stitch parts): batched writes in a worker thread."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

BATCH = 1 << 20


async def stream_to_file(chunks: AsyncIterator[bytes], path: Path) -> int:
    """Write ``chunks`` to ``path`` (via ``path.part``, renamed when complete); returns the size."""
    part = path.with_name(path.name + ".part")
    fh = await asyncio.to_thread(_open, part)
    size, batch, pending = 0, bytearray(), 0
    try:
        async for chunk in chunks:
            batch += chunk
            pending += len(chunk)
            if pending >= BATCH:
                await asyncio.to_thread(fh.write, bytes(batch))
                size += pending
                batch, pending = bytearray(), 0
        await asyncio.to_thread(fh.write, bytes(batch))
        size += pending
        await asyncio.to_thread(fh.close)
    except BaseException:
        fh.close()
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    return size


def _open(part: Path) -> BinaryIO:
    part.parent.mkdir(parents=True, exist_ok=True)
    return open(part, "wb")
