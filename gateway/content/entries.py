"""What the retention janitor sees of a content store: one entry per job, whatever the backend."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

Inode = Hashable  # a local file's (device, inode); an object's key: what one copy of the bytes is


@dataclass
class Entry:
    """One job's content: a directory on disk, or the objects under one key prefix."""

    path: Path  # its ``name`` is the job id
    used: float  # last write, link or download (epoch seconds)
    inodes: dict[Inode, int] = field(default_factory=dict)  # copy of the bytes -> size
    busy: bool = False  # a fetch or stitch is in progress
    finished: bool = False  # holds a video


def scan(root: Path) -> list[Entry]:
    """Every job directory under ``root`` (``<root>/<xx>/<job id>``)."""
    entries: list[Entry] = []
    for shard in _dirs(root):
        if shard.name.startswith("."):  # the sha256 index (``.by-sha256``), not a shard of job directories
            continue
        for directory in _dirs(shard):
            try:
                entry = Entry(directory, directory.stat().st_mtime)
                for item in directory.iterdir():
                    if item.is_dir():
                        entry.busy = entry.busy or (item.name == "scratch" and any(item.iterdir()))
                        continue
                    stat = item.stat()
                    entry.inodes[(stat.st_dev, stat.st_ino)] = stat.st_size
                    entry.busy = entry.busy or item.suffix == ".part"
                    entry.finished = entry.finished or item.name.startswith("video.")
            except FileNotFoundError:  # deleted while we looked
                continue
            entries.append(entry)
    return entries


def _dirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []
