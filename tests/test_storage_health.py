"""The full-disk watch: what marks the content store unwritable, and what makes it writable again."""

from __future__ import annotations

import asyncio
import errno
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.content.space import StorageHealth, is_space_error
from gateway.errors import ApiError
from gateway.pipeline.storage import StorageStage

FULL = OSError(errno.ENOSPC, "No space left on device")


def with_free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    real = shutil.disk_usage

    def usage(path: Any) -> Any:
        return real(path)._replace(free=free)

    monkeypatch.setattr(shutil, "disk_usage", usage)


def test_space_errors_are_recognised_through_the_chain() -> None:
    assert is_space_error(FULL)
    assert is_space_error(OSError(errno.EDQUOT, "Disk quota exceeded"))
    try:
        try:
            raise FULL
        except OSError as inner:
            raise RuntimeError("stitch failed") from inner
    except RuntimeError as outer:
        assert is_space_error(outer)
    assert not is_space_error(OSError(errno.EACCES, "Permission denied"))
    assert not is_space_error(ValueError("bad parts"))


def test_a_failed_write_needs_room_for_twice_what_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    health = StorageHealth(tmp_path)
    with_free(monkeypatch, 10_000_000)
    assert health.probe()
    health.write_result(FULL, attempted_bytes=8_000_000)  # a video of 8 MB did not fit
    assert not health.ok and "no space" in str(health.status()["error"])
    assert not health.probe(), "10 MB free is not room for a second try at an 8 MB video plus margin"
    with_free(monkeypatch, 16_000_001)
    assert health.probe() and health.status() == {"ok": True, "root": str(tmp_path), "free_bytes": 16_000_001}


def test_a_successful_write_clears_the_requirement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    health = StorageHealth(tmp_path)
    with_free(monkeypatch, 1_000_000)
    health.write_result(FULL, attempted_bytes=5_000_000)
    assert not health.probe()
    health.write_result(None, 4_000_000)  # a retried fetch went through after all
    assert health.probe()


def test_min_free_bytes_and_the_admission_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    health = StorageHealth(tmp_path, min_free_bytes=1_000_000)
    with_free(monkeypatch, 999_999)
    assert not health.probe()  # the background loop's look (every probe_s)
    with pytest.raises(ApiError) as refused:
        asyncio.run(StorageStage(health).admit(None))  # type: ignore[arg-type]
    assert refused.value.status == 503 and refused.value.code == "storage_unavailable"
    assert refused.value.headers.get("Retry-After")
    health.checked_at = 0.0
    with_free(monkeypatch, 1_000_000)
    assert asyncio.run(StorageStage(health).admit(None)) is None  # type: ignore[arg-type]
