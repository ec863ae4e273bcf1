"""Hostile input against a real gateway + simulator (issue 9, part A): each test fails on the old main.

Lone surrogates and deep JSON are 400s before anything is stored; a stored record that cannot be
encoded never breaks list/retrieve; uploads of refused creates are not kept; refused creates count
against ``requests_per_minute``; Range errors are OpenAI-shaped; ``after`` has one behaviour; the seed
dialect's URL comes from ``public_base_url``, never ``Host``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core.ids import new_video_id
from gateway.core.models import Job, Reference, Segment, Status
from gateway.pipeline.uploads import UploadJanitor
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis_store import RedisStore
from gateway.store.sqlite import SqliteStore
from tests.conftest import FAST_CONFIG, Gateway, sim_stats, start_gateway, write_tenants
from tests.procs import Proc, wait_for

PUBLIC = "https://videos.example.com/gw"
CONFIG = FAST_CONFIG + f"public_base_url: {PUBLIC}\n"
TENANTS = {
    "hostile": "cache: {scope: off}\n",
    "rpm": "quotas: {requests_per_minute: 3}\ncache: {scope: off}\n",
    "policy": "content: {blocked_terms: [forbiddenword]}\ncache: {scope: off}\n",
    "broke": "quotas: {budget_usd_per_month: 0.01}\ncache: {scope: off}\n",
}
SURROGATE = b"hi \\ud800 there"  # the JSON escape of a lone UTF-16 surrogate


def key_of(tenant: str) -> str:
    return f"sk-hostile-{tenant}-0123456789"


@pytest.fixture(scope="module")
def gw(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("hostile")
    policies = write_tenants(tmp / "policies", TENANTS, key_of)
    gateway = start_gateway(simulator, tmp, f"sqlite:///{tmp / 'gw.db'}", policies=policies, config=CONFIG)
    yield gateway
    gateway.proc.stop()
    assert "Traceback" not in gateway.proc.logs()


def http(gw: Gateway, tenant: str = "hostile") -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key_of(tenant)}"}, timeout=30)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def creates(sim: Proc) -> int:
    return int(dict(sim_stats(sim)["calls"]).get("create", 0))  # type: ignore[arg-type]


def wait_completed(client: httpx.Client, video_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        found.update(client.get(f"/v1/videos/{video_id}").json())
        return found["status"] in ("completed", "failed")

    wait_for(done, f"{video_id} to finish", timeout=120)
    assert found["status"] == "completed", found
    return found


# -- 1. lone surrogates ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/videos", b'{"prompt": "' + SURROGATE + b'"}', "prompt"),
        ("/v1/videos", b'{"prompt": "a cat", "negative_prompt": "' + SURROGATE + b'"}', "negative_prompt"),
        ("/v1/videos/video_0123/remix", b'{"prompt": "' + SURROGATE + b'"}', "prompt"),
        ("/v1/video/generations", b'{"prompt": "' + SURROGATE + b'", "duration_seconds": 4}', "prompt"),
        ("/v1/video/generations", b'{"prompt": "a cat", "negative_prompt": "x \\udfff"}', "negative_prompt"),
    ],
)
def test_lone_surrogate_is_a_400_before_anything_is_stored(
    gw: Gateway, simulator: Proc, path: str, body: bytes, param: str
) -> None:
    before = creates(simulator)
    with http(gw) as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        error = error_of(response, 400)
        assert error["param"] == param and error["code"] == "invalid_unicode", error
        listed = client.get("/v1/videos")
        assert listed.status_code == 200, listed.text
        assert listed.json()["data"] == []  # nothing was stored, so nothing holds a slot
    assert creates(simulator) == before


def test_a_stored_record_that_cannot_be_encoded_never_breaks_list_or_retrieve(gw: Gateway) -> None:
    """A record stored before such input was refused (or by an older replica) is served, mangled, not a 500."""
    good = Job(id=new_video_id(), tenant="hostile", model="sora-2", prompt="fine", size="1280x720", seconds="4")
    bad = Job(
        id=new_video_id(),
        tenant="hostile",
        model="sora-2",
        prompt="hi \ud800 there",
        size="1280x720",
        seconds="4",
        status=Status.FAILED,
        segments=[Segment(index=0, seconds=4, prompt="hi \ud800 there")],
        error={"code": "internal_error", "message": "x \udfff"},
    )
    good.status = Status.FAILED

    async def put() -> None:
        store = SqliteStore(Path(gw.store.removeprefix("sqlite:///")))
        await store.put(good)
        await store.put(bad)
        await store.close()

    asyncio.run(put())
    with http(gw) as client:
        listed = client.get("/v1/videos", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        ids = [v["id"] for v in listed.json()["data"]]
        assert good.id in ids and bad.id in ids
        one = client.get(f"/v1/videos/{bad.id}")
        assert one.status_code == 200, one.text
        assert one.json()["prompt"] == "hi \ufffd there"
        assert client.delete(f"/v1/videos/{bad.id}").status_code == 200
        assert client.delete(f"/v1/videos/{good.id}").status_code == 200


# -- 2. deep JSON ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"prompt": "a", "input_reference": ' + b'{"a": ' * 50 + b"1" + b"}" * 50 + b"}",
    ],
    ids=["bare-brackets", "deep-prompt", "deep-object"],
)
@pytest.mark.parametrize("path", ["/v1/videos", "/v1/video/generations", "/v1/videos/extensions"])
def test_deeply_nested_json_is_invalid_json(gw: Gateway, path: str, body: bytes) -> None:
    with http(gw) as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert error_of(response, 400)["code"] == "invalid_json"


def test_deeply_nested_form_field_is_a_400(gw: Gateway) -> None:
    with http(gw) as client:
        response = client.post("/v1/videos", data={"prompt": "a cat", "input_reference": "[" * 100_000})
    assert error_of(response, 400)["param"] == "input_reference"


# -- 5. uploads --------------------------------------------------------------------------------
def uploads(gw: Gateway) -> list[str]:
    folder = gw.data_dir / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def png() -> tuple[str, bytes, str]:
    """A fresh file each time (uploads were once kept by checksum: a repeat would hide a kept copy)."""
    return ("ref.png", b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes + b"\0" * 50_000, "image/png")


@pytest.mark.parametrize(
    ("tenant", "form", "status", "code"),
    [
        ("hostile", {"prompt": "a cat", "bogus": "1"}, 400, "unknown_parameter"),
        ("hostile", {"prompt": "a cat", "seconds": "999"}, 400, "invalid_value"),
        ("policy", {"prompt": "a forbiddenword cat"}, 400, "content_policy_violation"),
        ("broke", {"prompt": "a cat", "seconds": "8"}, 429, "budget_usd_per_month_exceeded"),
    ],
    ids=["unknown-field", "bad-seconds", "policy", "quota"],
)
def test_a_refused_create_keeps_no_upload(
    gw: Gateway, tenant: str, form: dict[str, str], status: int, code: str
) -> None:
    before = uploads(gw)
    with http(gw, tenant) as client:
        response = client.post("/v1/videos", data=form, files={"input_reference": png()})
    assert error_of(response, status)["code"] == code
    assert uploads(gw) == before


def test_an_accepted_create_keeps_its_upload(gw: Gateway) -> None:
    before = set(uploads(gw))
    with http(gw) as client:
        response = client.post("/v1/videos", data={"prompt": "a kept cat"}, files={"input_reference": png()})
        assert response.status_code == 200, response.text
        wait_completed(client, response.json()["id"])
    assert len(set(uploads(gw)) - before) == 1


def test_refused_creates_count_against_requests_per_minute(gw: Gateway) -> None:
    with http(gw, "rpm") as client:
        for _ in range(3):  # refused for an unknown field: nothing stored, but the request was made
            response = client.post("/v1/videos", json={"prompt": "a cat", "bogus": 1})
            assert error_of(response, 400)["code"] == "unknown_parameter"
            assert response.headers["x-ratelimit-limit-requests"] == "3"
        over = client.post("/v1/videos", data={"prompt": "a cat"}, files={"input_reference": png()})
    assert error_of(over, 429)["code"] == "rate_limit_exceeded"
    assert int(over.headers["retry-after"]) >= 1


# -- 7. Range and HEAD ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def done_video(gw: Gateway) -> str:
    with http(gw) as client:
        created = client.post("/v1/videos", json={"prompt": "a lighthouse for ranges", "seconds": "4"})
        assert created.status_code == 200, created.text
        return str(wait_completed(client, created.json()["id"])["id"])


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=5-2", 400),
        ("bytes=abc", 400),
        ("bytes=abc-def", 400),
        ("items=0-5", 400),
        ("bytes", 400),
        ("bytes=-0", 416),
        ("bytes=99999999999-", 416),
        ("bytes=99999999999-99999999999", 416),
    ],
)
def test_range_errors_are_openai_shaped(gw: Gateway, done_video: str, header: str, status: int) -> None:
    with http(gw) as client:
        response = client.get(f"/v1/videos/{done_video}/content", headers={"range": header})
        error = error_of(response, status)
        assert error["param"] == "Range" and error["code"] == "invalid_range"
        if status == 416:
            size = len(client.get(f"/v1/videos/{done_video}/content").content)
            assert response.headers["content-range"] == f"bytes */{size}"


def test_valid_ranges_still_work(gw: Gateway, done_video: str) -> None:
    with http(gw) as client:
        whole = client.get(f"/v1/videos/{done_video}/content").content
        part = client.get(f"/v1/videos/{done_video}/content", headers={"range": "bytes=0-9"})
        suffix = client.get(f"/v1/videos/{done_video}/content", headers={"range": "bytes=-5"})
        huge_suffix = client.get(f"/v1/videos/{done_video}/content", headers={"range": "bytes=-99999999999"})
    assert part.status_code == 206 and part.content == whole[:10]
    assert suffix.status_code == 206 and suffix.content == whole[-5:]
    assert huge_suffix.status_code == 206 and huge_suffix.content == whole


def test_head_answers_like_get_without_a_body(gw: Gateway) -> None:
    with http(gw) as client:
        for path in ("/v1/videos", "/v1/videos?limit=abc", "/v1/videos/video_nope", "/v1/videos?after=junk"):
            get, head = client.get(path), client.head(path)
            assert head.status_code == get.status_code and head.content == b""
            assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
            assert head.headers["content-length"] == str(len(get.content))


# -- 9. public_base_url ------------------------------------------------------------------------
def test_seed_url_uses_public_base_url_never_the_host_header(gw: Gateway) -> None:
    with http(gw) as client:
        created = client.post(
            "/v1/video/generations",
            json={"prompt": "a balloon", "duration_seconds": 4},
            headers={"host": "evil.example"},
        )
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]
        wait_completed(client, video_id)
        got = client.get(f"/v1/video/generations/{video_id}", headers={"host": "evil.example"}).json()
    assert got["data"][0]["url"] == f"{PUBLIC}/v1/videos/{video_id}/content"


# -- 10. after -----------------------------------------------------------------------------------
def test_after_has_one_behaviour(gw: Gateway) -> None:
    with http(gw) as client:
        ids = [client.post("/v1/videos", json={"prompt": f"after {i}", "seconds": "4"}).json()["id"] for i in (1, 2)]
        garbage = client.get("/v1/videos", params={"after": "garbage"})
        assert error_of(garbage, 400)["param"] == "after"
        # a gateway id continues from where it sorts, whether or not the video (still) exists
        unknown = "video_" + "0" * 48  # sorts before every real video
        asc = client.get("/v1/videos", params={"after": unknown, "order": "asc", "limit": 100}).json()
        desc = client.get("/v1/videos", params={"after": unknown, "order": "desc", "limit": 100}).json()
        assert set(ids) <= {v["id"] for v in asc["data"]} and desc["data"] == []
        newest = "video_" + "f" * 48
        assert set(ids) <= {v["id"] for v in client.get("/v1/videos", params={"after": newest}).json()["data"]}


# -- 8. slow bodies and the request limit -----------------------------------------------------
def _trickle(url: str, path: str, key: str, *, seconds: float, body_bytes: int = 1000) -> tuple[float, bytes]:
    """Send headers, then one body byte every 0.25 s; return when the server answers or closes."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {body_bytes}\r\n\r\n"
    )
    sock.sendall(head.encode())
    sock.settimeout(0.25)
    started, answer = time.monotonic(), b""
    try:
        while time.monotonic() - started < seconds:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
                if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                    break
            except TimeoutError:
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
    finally:
        sock.close()
    return time.monotonic() - started, answer


def test_slow_bodies_are_cut_off_with_a_408(simulator: Proc, tmp_path: Path) -> None:
    config = FAST_CONFIG + "body_timeout_s: 2\nbody_idle_timeout_s: 1\n"
    policies = write_tenants(tmp_path / "policies", TENANTS, key_of)
    gw = start_gateway(simulator, tmp_path, "memory://", policies=policies, config=config)
    try:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda _: _trickle(gw.url, "/v1/videos", key_of("hostile"), seconds=45), range(20)))
        for _, answer in results:  # every trickler got a JSON 408, long before its 45 s were up
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), answer[:300]
            assert json.loads(body)["error"]["code"] == "request_timeout"
        assert max(elapsed for elapsed, _ in results) < 40
        assert httpx.get(gw.url + "/healthz").status_code == 200
    finally:
        gw.proc.stop()


def test_requests_over_the_limit_get_a_503_and_health_still_answers(simulator: Proc, tmp_path: Path) -> None:
    config = FAST_CONFIG + "max_concurrent_requests: 3\nbody_timeout_s: 60\nbody_idle_timeout_s: 60\n"
    policies = write_tenants(tmp_path / "policies", TENANTS, key_of)
    gw = start_gateway(simulator, tmp_path, "memory://", policies=policies, config=config)
    import socket

    held = []
    try:
        host, port = gw.url.removeprefix("http://").split(":")
        for _ in range(3):  # three requests whose bodies never come
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
            sock.sendall(f"Authorization: Bearer {key_of('hostile')}\r\nContent-Length: 100\r\n\r\n{{".encode())
            held.append(sock)
        busy: dict[str, Any] = {}

        def refused() -> bool:
            response = httpx.get(gw.url + "/v1/videos", headers={"Authorization": f"Bearer {key_of('hostile')}"})
            busy.update(status=response.status_code, body=response.json())
            return response.status_code == 503

        wait_for(refused, "a 503 while three requests are held", timeout=30)
        assert busy["body"]["error"]["code"] == "server_busy"
        assert httpx.get(gw.url + "/healthz").status_code == 200
        for sock in held:
            sock.close()
        wait_for(
            lambda: (
                httpx.get(gw.url + "/v1/videos", headers={"Authorization": f"Bearer {key_of('hostile')}"}).status_code
                == 200
            ),
            "requests to be served again",
        )
    finally:
        for sock in held:
            sock.close()
        gw.proc.stop()


# -- 5. uploads age out -----------------------------------------------------------------------
async def test_old_uploads_no_active_job_uses_are_swept(store: JobStore, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    names = ("used-by-running", "used-by-finished", "orphan", "young-orphan", "incoming-x.part")
    for name in names:
        (folder / name).write_bytes(b"x")
    old = time.time() - 7200
    for name in names[:3] + names[4:]:
        os.utime(folder / name, (old, old))
    running = Job(id=new_video_id(), tenant="t", model="sora-2", prompt="p", size="1280x720", seconds="4")
    running.requested["input_reference"] = asdict(Reference(path=str(folder / "used-by-running"), sha256="ab"))
    finished = Job(id=new_video_id(), tenant="t", model="sora-2", prompt="p", size="1280x720", seconds="4")
    finished.requested["source_file"] = asdict(Reference(path=str(folder / "used-by-finished"), sha256="cd"))
    finished.status = Status.COMPLETED
    await store.put(running)
    await store.put(finished)
    janitor = UploadJanitor(folder, store, max_age_s=3600, interval_s=60)
    removed = await janitor.sweep()
    assert sorted(removed) == ["incoming-x.part", "orphan", "used-by-finished"]
    assert sorted(p.name for p in folder.iterdir()) == ["used-by-running", "young-orphan"]
    assert await janitor.sweep() == []


async def test_an_unreadable_record_is_left_out_of_a_listing(store: JobStore) -> None:
    jobs = [
        Job(id=new_video_id(), tenant="t", model="sora-2", prompt=f"p{i}", size="1280x720", seconds="4") for i in (1, 2)
    ]
    for job in jobs:
        await store.put(job)
    broken = jobs[0].id
    if isinstance(store, MemoryStore):  # each backend's own way of holding a record, overwritten with junk
        store._jobs[broken] = "{not json"
    elif isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:  # another connection, as another process would write
            db.execute("UPDATE jobs SET data = ? WHERE id = ?", ("{not json", broken))
    else:
        assert isinstance(store, RedisStore)
        await store._redis.set(store._job + broken, "{not json")
    listed, _ = await store.list("t", limit=10)
    assert [j.id for j in listed] == [jobs[1].id]


def test_slow_headers_and_silent_connections_are_closed(simulator: Proc, tmp_path: Path) -> None:
    import socket
    from concurrent.futures import ThreadPoolExecutor

    config = FAST_CONFIG + "header_timeout_s: 1\n"
    policies = write_tenants(tmp_path / "policies", TENANTS, key_of)
    gw = start_gateway(simulator, tmp_path, "memory://", policies=policies, config=config)
    host, port = gw.url.removeprefix("http://").split(":")

    def held_for(trickle: bool) -> float:
        """Seconds until the gateway closes a connection that trickles header bytes (or sends nothing)."""
        sock = socket.create_connection((host, int(port)), timeout=60)
        sock.settimeout(0.25)
        started = time.monotonic()
        try:
            if trickle:
                sock.sendall(b"GET /v1/videos HTTP/1.1\r\nHost: x\r\n")
            while time.monotonic() - started < 45:
                try:
                    if sock.recv(1024) == b"":
                        break
                except TimeoutError:
                    if trickle:
                        try:
                            sock.sendall(b"X")
                        except OSError:
                            break
                except OSError:
                    break
        finally:
            sock.close()
        return time.monotonic() - started

    try:
        with ThreadPoolExecutor(10) as pool:
            held = list(pool.map(held_for, [True, False] * 5))
        assert max(held) < 40, held  # closed by the gateway, not by the test's 45 s
        assert httpx.get(gw.url + "/healthz").status_code == 200
    finally:
        gw.proc.stop()


def test_past_max_connections_a_request_gets_an_openai_shaped_503(simulator: Proc, tmp_path: Path) -> None:
    import socket

    config = FAST_CONFIG + "max_connections: 4\nheader_timeout_s: 60\n"
    policies = write_tenants(tmp_path / "policies", TENANTS, key_of)
    gw = start_gateway(simulator, tmp_path, "memory://", policies=policies, config=config)
    host, port = gw.url.removeprefix("http://").split(":")
    auth = {"Authorization": f"Bearer {key_of('hostile')}"}
    silent = []
    try:
        for _ in range(5):  # connections that never send a request
            silent.append(socket.create_connection((host, int(port)), timeout=30))
        busy = httpx.get(gw.url + "/v1/videos", headers=auth, timeout=30)
        assert error_of(busy, 503)["code"] == "server_busy" and busy.headers["retry-after"] == "1"
        for sock in silent:
            sock.close()
        wait_for(lambda: httpx.get(gw.url + "/v1/videos", headers=auth).status_code == 200, "connections freed")
    finally:
        for sock in silent:
            sock.close()
        gw.proc.stop()
