"""Content retention: kept past the upstream's expiry, served with Range/ETag/Last-Modified, evicted LRU
under a size/age budget, with a fallback to the upstream (or a clear 410) once evicted. The end-to-end
tests run on both content stores: ``file://`` (the data directory) and ``s3://`` (a real S3-compatible
server, moto's server mode)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.content.local import LocalContentStore
from gateway.content.retention import ContentJanitor, choose_evictions, scan
from gateway.media.probe import probe_duration
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Gateway, calls, start_gateway
from tests.procs import Proc
from tests.s3server import S3Server

SWEEP_CONFIG = FAST_CONFIG + "content_sweep_s: 0.1\n"


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def upstream_id(sim: Proc, prompt: str) -> str:
    """The simulator's id of the video the gateway made for ``prompt`` (listed with the gateway's key)."""
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    page = httpx.get(sim.url + "/v1/videos", params={"limit": 100}, headers=headers, timeout=10).json()
    return next(v["id"] for v in page["data"] if v["prompt"] == prompt)


def expire_upstream(sim: Proc, prompt: str) -> None:
    httpx.post(sim.url + f"/_sim/expire/{upstream_id(sim, prompt)}", timeout=10).raise_for_status()


BUCKETS: dict[str, tuple[S3Server, str]] = {}  # gateway URL -> the S3 server and bucket it keeps content in


def job_dir(gw: Gateway, video_id: str) -> Path:
    return gw.data_dir / "content" / video_id[-2:] / video_id


def kept_bytes(gw: Gateway, video_id: str) -> int:
    """Bytes of the job's retained media (0: nothing kept), on disk or in the bucket."""
    if gw.url in BUCKETS:
        server, bucket = BUCKETS[gw.url]
        objects = server.objects(bucket, f"kept/{video_id[-2:]}/{video_id}/")
        return sum(size for key, size in objects.items() if not key.endswith((".used", ".sha256")))
    directory = job_dir(gw, video_id)
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file()) if directory.exists() else 0


def start_kept(
    backend: str, request: pytest.FixtureRequest, simulator: Proc, tmp: Path, store: str, **kw: str
) -> Gateway:
    """A gateway keeping content in ``backend``: its data dir (file) or a new bucket (s3)."""
    if backend == "file":
        return start_gateway(simulator, tmp, store, **kw)  # type: ignore[arg-type]
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    gateway = start_gateway(
        simulator,
        tmp,
        store,
        "--content-store",
        f"s3://{bucket}/kept",
        env=server.env(),
        **kw,  # type: ignore[arg-type]
    )
    BUCKETS[gateway.url] = (server, bucket)
    return gateway


def wait_for(condition: object, what: str, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module", params=["file", "s3"])
def gw(request: pytest.FixtureRequest, simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("retain")
    gateway = start_kept(request.param, request, simulator, tmp, f"sqlite:///{tmp / 'gw.db'}")
    yield gateway
    gateway.proc.stop()


def test_retained_video_downloads_after_the_upstream_expired_it(gw: Gateway, simulator: Proc, tmp_path: Path) -> None:
    client = gw.client()
    prompt = unique("a harbour at night")
    video = client.videos.create_and_poll(prompt=prompt, seconds="8", poll_interval_ms=50)
    expire_upstream(simulator, prompt)
    with gw.http() as http:  # the simulator really refuses it now
        upstream = httpx.get(
            simulator.url + f"/v1/videos/{upstream_id(simulator, prompt)}/content",
            headers={"Authorization": f"Bearer {UPSTREAM_KEY}"},
        )
        assert upstream.status_code == 404
        before = calls(simulator, "content")
        whole = http.get(f"/v1/videos/{video.id}/content")
        assert whole.status_code == 200 and calls(simulator, "content") == before
        path = tmp_path / "kept.mp4"
        path.write_bytes(whole.content)
        assert abs(probe_duration(path) - 8) < 0.2
        etag = whole.headers["etag"]
        assert etag == '"' + hashlib.sha256(whole.content).hexdigest() + '"'
        assert whole.headers["last-modified"] and whole.headers["accept-ranges"] == "bytes"
        again = http.get(f"/v1/videos/{video.id}/content", headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.content
        part = http.get(f"/v1/videos/{video.id}/content", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        thumb = http.get(f"/v1/videos/{video.id}/content", params={"variant": "thumbnail"})
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"


def test_lru_eviction_under_a_size_budget_then_upstream_fallback_then_410(
    gw: Gateway, simulator: Proc, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # what one video keeps varies with its frames (the previews are JPEG/WebP: 17.6-22.4 KB seen), so the budget is
    # 2.5 times the mean of three: two videos fit, three do not (one probe alone once let all three fit)
    client = gw.client()
    probes = [client.videos.create_and_poll(prompt=unique("probe"), seconds="4", poll_interval_ms=50) for _ in range(3)]
    sizes = [kept_bytes(gw, probe.id) for probe in probes]
    unit = sum(sizes) / len(sizes)
    assert min(sizes) > 1000, sizes
    backend = "s3" if gw.url in BUCKETS else "file"
    config = SWEEP_CONFIG + f"content_max_bytes: {int(unit * 2.5)}\n"
    small = start_kept(backend, request, simulator, tmp_path, "memory://", config=config)
    try:
        client = small.client()
        prompts = [unique(name) for name in ("lru a", "lru b", "lru c")]
        a = client.videos.create_and_poll(prompt=prompts[0], seconds="4", poll_interval_ms=50)
        b = client.videos.create_and_poll(prompt=prompts[1], seconds="4", poll_interval_ms=50)
        if backend == "s3":
            time.sleep(1.1)  # S3's LastModified counts whole seconds: a's use must fall in a later one than b's
        client.videos.download_content(a.id)  # a is now more recently used than b
        if backend == "s3":
            time.sleep(1.1)
        c = client.videos.create_and_poll(prompt=prompts[2], seconds="4", poll_interval_ms=50)
        wait_for(lambda: kept_bytes(small, b.id) == 0, "b to be evicted")
        assert kept_bytes(small, a.id) and kept_bytes(small, c.id)

        before = calls(simulator, "content")
        fallback = client.videos.download_content(b.id).content  # from the upstream, which still has it
        assert calls(simulator, "content") == before + 1 and len(fallback) > 1000
        expire_upstream(simulator, prompts[1])
        with small.http() as http:
            gone = http.get(f"/v1/videos/{b.id}/content")
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "content_expired"
        metrics = httpx.get(small.url + "/metrics").text
        assert 'sora_gateway_content_evictions_total{reason="size"}' in metrics
    finally:
        small.proc.stop()


# -- the janitor on real files ---------------------------------------------------
def put(store: LocalContentStore, job_id: str, size: int, used: float) -> Path:
    directory = store.directory(job_id)
    directory.mkdir(parents=True)
    (directory / "video.mp4").write_bytes(os.urandom(size))
    os.utime(directory, (used, used))
    return directory


async def test_janitor_evicts_least_recently_used_and_counts_hard_links_once(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path)
    now = time.time()
    old = put(store, "video_old000", 1000, now - 300)
    shared = put(store, "video_shr000", 1000, now - 200)
    assert (await store.link("video_shr000", "video_hit000"))["video"]
    os.utime(store.directory("video_hit000"), (now - 10, now - 10))
    fresh = put(store, "video_new000", 1000, now - 100)
    busy = put(store, "video_bsy000", 1000, now - 400)
    (busy / "thumbnail.webp.part").write_bytes(b"x")
    assert choose_evictions(scan(tmp_path), max_bytes=0, max_age_s=0, now=now) == ([], 4001)

    janitor = ContentJanitor(store, max_bytes=2500, max_age_s=0)
    evicted = await janitor.sweep()
    # 4001 bytes over 2500: the busy one is skipped and the least recently used goes; the original of
    # the shared video would free nothing (its hit, used just now, holds the bytes), so the next one goes.
    assert evicted == ["video_old000", "video_new000"]
    assert not old.exists() and not fresh.exists() and busy.exists() and shared.exists()
    assert await store.find("video_hit000", "video") is not None
    assert choose_evictions(scan(tmp_path), max_bytes=2500, max_age_s=0, now=now) == ([], 2001)


async def test_janitor_evicts_by_age(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path)
    now = time.time()
    stale = put(store, "video_stale0", 10, now - 7200)
    kept = put(store, "video_kept00", 10, now - 60)
    chosen, remaining = choose_evictions(scan(tmp_path), max_bytes=0, max_age_s=3600, now=now)
    assert [(e.path, why) for e, why in chosen] == [(stale, "age")] and remaining == 10
    assert await ContentJanitor(store, max_bytes=0, max_age_s=3600).sweep() == ["video_stale0"]
    assert kept.exists() and not stale.exists()
