"""Content in an S3-compatible bucket (``s3://bucket[/prefix]``), through obstore.

Layout under the prefix (mirrors :mod:`gateway.content.local`, so replicas need no shared disk):

* ``<xx>/<job id>/<variant>``: the media (``Content-Type`` and the extension as attributes); a
  streamed write is a multipart upload (parts of ``PART_BYTES``, at most ``UPLOAD_CONCURRENCY`` in
  flight: bounded memory) that becomes visible only when complete; a failed one is aborted, and one
  cut by a killed process stays an invisible incomplete upload (the lifecycle rule in
  ``deploy/s3-lifecycle.json`` aborts those after a day). A job's media is spooled to local files first
  (:mod:`gateway.jobs.spool`) and adopted from there, so a failed upload is retried without the upstream.
* ``<xx>/<job id>/<variant>.sha256``: its sha256. S3 fixes metadata when an upload starts, before a
  streamed checksum is known, so the digest is a small object written right after the media; a file
  adopted from scratch (known digest) carries it as the ``sha256`` metadata too.
* ``<xx>/<job id>/.used``: rewritten (at most once a minute per replica) when the content is used:
  the LRU clock the janitor reads from listings.
* ``.by-sha256/<sha256>/<job id>``: which jobs hold a video with that checksum.
* ``uploads/<sha256>``: clients' uploaded files (input references, videos to extend), fetched by
  whichever replica sends them upstream into ``<work_dir>/scratch/uploads`` (see :mod:`gateway.content.fetched`).

Errors become :class:`ContentStoreError`; a missing object is ``None``, never an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import obstore

from gateway.content.base import ContentRedirect, ContentStoreError, StoredObject
from gateway.content.entries import Entry
from gateway.content.fetched import FetchedUploads
from gateway.content.local import EXTENSIONS, MEDIA_TYPES, check_range
from gateway.content.ranges import RangeNotSatisfiable, parse_range
from gateway.content.s3client import (
    SourceError,
    digest_file,
    http_date,
    noop,
    open_bucket,
    parse_s3_url,
    read_file,
    reason,
)
from gateway.content.scratchfile import stream_to_file
from gateway.core.models import Reference
from gateway.upstreams.base import ContentStream

PART_BYTES = 8 << 20  # multipart part size (S3's minimum is 5 MiB)
UPLOAD_CONCURRENCY = 2  # parts in flight per upload: memory stays under ~3 parts per upload
READ_CHUNK = 256 << 10
TOUCH_EVERY_S = 60.0
BY_SHA256 = ".by-sha256"
UPLOADS = "uploads"
USED = ".used"
DIGEST = ".sha256"
SKIP_PREFIXES = (BY_SHA256 + "/", UPLOADS + "/")


class S3ContentStore:
    """``s3://bucket[/prefix]``: endpoint, region and keys from the standard AWS variables."""

    def __init__(
        self, url: str, *, work_dir: Path, presign_s: float = 0.0, env: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if env is None else env
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = url
        self.presign_s = presign_s
        self.work_dir = Path(work_dir)
        self.on_stored: Callable[[], None] | None = None
        self.store = open_bucket(self.bucket, self.prefix, env)
        self._digests: OrderedDict[tuple[str, str], str] = OrderedDict()  # (key, etag) -> sha256
        self._touched: dict[str, float] = {}
        # fetched uploads: not in <work_dir>/uploads, whose janitor deletes what no job names
        self.fetched = FetchedUploads(self.work_dir / "scratch" / UPLOADS)

    # -- helpers -------------------------------------------------------------------
    @staticmethod
    def directory(job_id: str) -> str:
        return f"{job_id[-2:]}/{job_id}"

    def key(self, job_id: str, variant: str) -> str:
        return f"{self.directory(job_id)}/{variant}"

    def _stored(self) -> None:
        if self.on_stored is not None:
            self.on_stored()

    async def _put(self, key: str, data: Any, attributes: dict[str, str] | None = None) -> None:
        try:
            await obstore.put_async(
                self.store,
                key,
                data,
                attributes=attributes,  # type: ignore[arg-type]
                chunk_size=PART_BYTES,
                max_concurrency=UPLOAD_CONCURRENCY,
            )
        except (ContentStoreError, asyncio.CancelledError):
            raise
        except Exception as exc:
            if isinstance(exc, SourceError):
                raise exc.original from None
            raise ContentStoreError(f"{self.url}: writing {key}: {reason(exc)}") from None

    async def _list(self, prefix: str) -> list[dict[str, Any]]:
        try:
            found = await obstore.list(self.store, prefix=prefix or None, chunk_size=1000).collect_async()
        except Exception as exc:
            raise ContentStoreError(f"{self.url}: listing: {reason(exc)}") from None
        return [dict(meta) for meta in found]

    async def _delete(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            await obstore.delete_async(self.store, keys)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise ContentStoreError(f"{self.url}: deleting: {reason(exc)}") from None

    async def _read_small(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self.store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise ContentStoreError(f"{self.url}: reading {key}: {reason(exc)}") from None

    # -- the protocol ----------------------------------------------------------------
    async def check(self) -> None:
        """List one key: the bucket exists, the endpoint answers and the credentials are accepted."""
        try:
            stream = obstore.list(self.store, prefix=None, chunk_size=1)
            await asyncio.wait_for(stream.__anext__(), 60)
        except StopAsyncIteration:
            pass
        except Exception as exc:
            raise ContentStoreError(f"{self.url}: {reason(exc)}") from None

    async def find(self, job_id: str, variant: str) -> StoredObject | None:
        key = self.key(job_id, variant)
        try:
            head = await obstore.get_async(self.store, key, options={"head": True})
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise ContentStoreError(f"{self.url}: reading {key}: {reason(exc)}") from None
        meta, attributes = head.meta, head.attributes
        etag = str(meta.get("e_tag") or "")
        sha256 = str(attributes.get("sha256") or "") or self._digests.get((key, etag), "")
        if not sha256:
            sha256 = (await self._read_small(key + DIGEST) or b"").decode(errors="replace").strip()
            if sha256:
                self._remember(key, etag, sha256)
        media_type = str(attributes.get("Content-Type") or "application/octet-stream")
        return StoredObject(key, int(meta["size"]), sha256, media_type, meta["last_modified"].timestamp())

    def _remember(self, key: str, etag: str, sha256: str) -> None:
        self._digests[(key, etag)] = sha256
        while len(self._digests) > 10_000:
            self._digests.popitem(last=False)

    async def serve(self, stored: Any, range_header: str | None) -> ContentStream | ContentRedirect | None:
        if self.presign_s:
            try:
                url = await obstore.sign_async(self.store, "GET", stored.key, timedelta(seconds=self.presign_s))
            except Exception as exc:
                raise ContentStoreError(f"{self.url}: signing: {reason(exc)}") from None
            return ContentRedirect(str(url))
        check_range(range_header, stored.size)  # malformed: 400, unsatisfiable: 416 (RangeProblem), as on disk
        wanted = parse_range(range_header, stored.size)  # one range; several are answered with the whole object
        options: dict[str, Any] = {"range": (wanted[0], wanted[1] + 1)} if wanted else {}
        try:
            result = await obstore.get_async(self.store, stored.key, options=options)  # type: ignore[arg-type]
        except FileNotFoundError:
            return None  # evicted or deleted since it was found
        except Exception as exc:
            raise ContentStoreError(f"{self.url}: reading {stored.key}: {reason(exc)}") from None
        start, stop = result.range
        headers = {
            "content-type": stored.media_type,
            "content-length": str(stop - start),
            "accept-ranges": "bytes",
            "last-modified": http_date(stored.last_modified),
        }
        if stored.sha256:
            headers.update({"etag": f'"{stored.sha256}"', "x-content-sha256": stored.sha256})
        if wanted:
            headers["content-range"] = f"bytes {start}-{stop - 1}/{stored.size}"

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in result.stream(min_chunk_size=READ_CHUNK):
                yield bytes(chunk)

        return ContentStream(status=206 if wanted else 200, headers=headers, chunks=chunks(), closer=noop)

    async def write(
        self, job_id: str, variant: str, chunks: AsyncIterator[bytes], ext: str | None = None
    ) -> StoredObject:
        ext = ext or EXTENSIONS.get(variant, "bin")
        key = self.key(job_id, variant)
        digest = hashlib.sha256()
        size = 0

        async def hashed() -> AsyncIterator[bytes]:
            nonlocal size
            try:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    yield chunk
            except Exception as exc:  # the upstream broke off: the upload is aborted, the error is the source's
                raise SourceError(exc) from exc

        media_type = MEDIA_TYPES.get(ext, "application/octet-stream")
        await self._put(key, hashed(), {"Content-Type": media_type, "ext": ext})
        sha256 = digest.hexdigest()
        await self._put(key + DIGEST, sha256.encode())
        if variant == "video":
            await self._mark(sha256, job_id)
        self._stored()
        return StoredObject(key, size, sha256, media_type, time.time())

    async def adopt(self, job_id: str, variant: str, source: Path) -> StoredObject:
        ext = source.suffix.lstrip(".") or EXTENSIONS.get(variant, "bin")
        sha256, size = await asyncio.to_thread(digest_file, source)
        key = self.key(job_id, variant)
        media_type = MEDIA_TYPES.get(ext, "application/octet-stream")
        await self._put(key, read_file(source), {"Content-Type": media_type, "ext": ext, "sha256": sha256})
        await self._put(key + DIGEST, sha256.encode())
        if variant == "video":
            await self._mark(sha256, job_id)
        source.unlink(missing_ok=True)
        self._stored()
        return StoredObject(key, size, sha256, media_type, time.time())

    async def _mark(self, sha256: str, job_id: str) -> None:
        if len(sha256) == 64:
            with contextlib.suppress(ContentStoreError):  # the index is a shortcut; the content is what counts
                await self._put(f"{BY_SHA256}/{sha256}/{job_id}", b"")

    async def jobs_with_video(self, sha256: str) -> list[str]:
        sha256 = sha256.lower()
        if len(sha256) != 64:
            return []
        found: list[str] = []
        for meta in await self._list(f"{BY_SHA256}/{sha256}/"):
            job_id = str(meta["path"]).rsplit("/", 1)[-1]
            stored = await self.find(job_id, "video")
            if stored is not None and stored.sha256 == sha256:
                found.append(job_id)
            else:
                await self._delete([str(meta["path"])])
        return sorted(found)

    async def link(self, source_id: str, target_id: str) -> dict[str, str]:
        """Server-side copies of the source's media (no bytes through the gateway); variant -> key."""
        linked: dict[str, str] = {}
        for meta in await self._list(self.directory(source_id) + "/"):
            name = str(meta["path"]).rsplit("/", 1)[-1]
            if name == USED:
                continue
            target = self.key(target_id, name)
            try:
                await obstore.copy_async(self.store, str(meta["path"]), target)
            except FileNotFoundError:  # evicted or deleted while we looked
                continue
            except Exception as exc:
                raise ContentStoreError(f"{self.url}: copying to {target}: {reason(exc)}") from None
            if not name.endswith(DIGEST):
                linked[name] = target
        if "video" in linked:
            video = await self.find(target_id, "video")
            if video is not None and video.sha256:
                await self._mark(video.sha256, target_id)
        if linked:
            self._stored()
        return linked

    async def touch(self, job_id: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(job_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self._touched[job_id] = now
        if len(self._touched) > 10_000:
            self._touched = {k: v for k, v in self._touched.items() if now - v < TOUCH_EVERY_S}
        with contextlib.suppress(ContentStoreError):  # the LRU clock is a hint
            await self._put(f"{self.directory(job_id)}/{USED}", b"")

    async def spool(self, job_id: str, name: str, chunks: AsyncIterator[bytes]) -> Path:
        """A local copy in this replica's scratch: the upload of it is retried however long the bucket is down."""
        path = self.scratch(job_id) / name
        await stream_to_file(chunks, path)
        return path

    def scratch(self, job_id: str) -> Path:
        path = self.work_dir / "scratch" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def remove(self, job_id: str) -> None:
        video = await self.find(job_id, "video")
        keys = [str(m["path"]) for m in await self._list(self.directory(job_id) + "/")]
        if video is not None and video.sha256:
            keys.append(f"{BY_SHA256}/{video.sha256}/{job_id}")
        await self._delete(keys)
        await asyncio.to_thread(shutil.rmtree, self.work_dir / "scratch" / job_id, True)

    async def inventory(self) -> list[Entry]:
        entries: dict[str, Entry] = {}
        for meta in await self._list(""):
            key = str(meta["path"])
            if key.startswith(UPLOADS + "/"):  # an upload: its own entry, evicted by age only (never finished)
                entries[key] = Entry(Path(key), meta["last_modified"].timestamp(), {key: int(meta["size"])})
                continue
            if key.startswith(SKIP_PREFIXES) or key.count("/") != 2:
                continue
            directory, name = key.rsplit("/", 1)
            entry = entries.setdefault(directory, Entry(Path(directory), 0.0))
            entry.used = max(entry.used, meta["last_modified"].timestamp())
            if name != USED:
                entry.inodes[key] = int(meta["size"])
            entry.finished = entry.finished or name == "video"
        return list(entries.values())

    async def evict(self, entry: Entry) -> None:
        if str(entry.path).startswith(UPLOADS + "/"):
            await self._delete([str(entry.path)])
        else:
            await self.remove(entry.path.name)

    async def keep_upload(self, ref: Reference) -> None:
        if not ref.path or not ref.sha256:
            return
        # written again even if there: the new LastModified keeps the janitor's age rule off it
        key = f"{UPLOADS}/{ref.sha256}"
        await self._put(key, read_file(Path(ref.path)), {"sha256": ref.sha256})

    async def local_upload(self, ref: Reference) -> Reference:
        if not ref.path or not ref.sha256 or Path(ref.path).exists():
            return ref
        local = await asyncio.to_thread(self.fetched.reuse, ref.sha256)
        if local is None:
            local = self.fetched.path(ref.sha256)
            try:
                result = await obstore.get_async(self.store, f"{UPLOADS}/{ref.sha256}")
            except FileNotFoundError:
                return ref  # nowhere: the adapter says the file is no longer available
            except Exception as exc:
                raise ContentStoreError(f"{self.url}: reading an upload: {reason(exc)}") from None
            local.parent.mkdir(parents=True, exist_ok=True)
            part = local.with_name(local.name + f".{os.getpid()}.part")
            with open(part, "wb") as fh:
                async for chunk in result.stream(min_chunk_size=1 << 20):
                    await asyncio.to_thread(fh.write, bytes(chunk))
            part.replace(local)
            await asyncio.to_thread(self.fetched.sweep)  # copies unused for a day; never this fresh one
        return Reference(
            filename=ref.filename,
            content_type=ref.content_type,
            path=str(local),
            sha256=ref.sha256,
            image_url=ref.image_url,
            file_id=ref.file_id,
        )


__all__ = ["RangeNotSatisfiable", "S3ContentStore", "parse_s3_url"]
