"""Client polls answered below Starlette (gateway/faces/fast_polls.py) are the route's answers exactly.

Two apps over one context (one store, one quota, one driver): one as served, one whose fast path never answers.
Every poll is sent to both; status, body, headers (all but the request id) and the access log's fields must be
the same. The plain polls must really have taken the fast path, and everything else must not.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway import middleware
from gateway.app import build_context, create_app
from gateway.config import Settings
from gateway.core.ids import new_video_id
from gateway.core.models import Job, Segment, Status
from gateway.faces.fast_polls import FastPolls

KEYS = {"acme": "sk-acme-fast-0000000000001", "globex": "sk-globex-fast-00000000002"}
ADMIN = "sk-admin-fast-000000000000003"


def job_of(tenant: str, status: Status) -> Job:
    job = Job(id=new_video_id(), tenant=tenant, model="sora-2", prompt="a fox", size="720x1280", seconds="4")
    job.status, job.upstream = status, "openai-2025-10"
    job.segments = [Segment(0, 4, "a fox", upstream_id="video_up", status=str(status))]
    job.segments[0].next_poll_at = time.time() + 3600  # the driver leaves it alone
    if status == Status.COMPLETED:
        job.progress, job.completed_at, job.expires_at = 100, int(time.time()), int(time.time()) + 3600
    return job


@pytest.fixture
async def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, Any, dict[str, Job]]]:
    tenants = tmp_path / "policies" / "tenants"
    tenants.mkdir(parents=True)
    for name, key in KEYS.items():
        digest = hashlib.sha256(key.encode()).hexdigest()
        quotas = "quotas: {requests_per_minute: 600}\n" if name == "acme" else ""
        (tenants / f"{name}.yaml").write_text(f'tenant: {name}\napi_keys: ["sha256:{digest}"]\n{quotas}')
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'gw.db'}",
        policies=str(tmp_path / "policies"),
        data_dir=str(tmp_path / "data"),
        upstream="http://127.0.0.1:9/v1",
        upstream_profile="openai-2025-10",
        admin_key=ADMIN,
    )
    ctx = build_context(settings)
    fast = create_app(settings, context=ctx)

    async def never(self: FastPolls, scope: Any, headers: Any) -> None:
        return None

    with monkeypatch.context() as patch:
        patch.setattr(FastPolls, "answer", never)
        slow = create_app(settings, context=ctx)
    jobs = {
        "running": job_of("acme", Status.IN_PROGRESS),
        "done": job_of("acme", Status.COMPLETED),
        "queued": job_of("acme", Status.QUEUED),
        "theirs": job_of("globex", Status.IN_PROGRESS),
    }
    async with fast.router.lifespan_context(fast):
        for job in jobs.values():
            await ctx.store.put(job)
        yield fast, slow, jobs


async def exchange(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """Every ASGI message the app sends for one body-less request."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"gw.test"), (b"accept", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def call(app: Any, method: str, path: str, key: str | None) -> tuple[int, dict[str, str], bytes]:
    auth = [(b"authorization", f"Bearer {key}".encode())] if key is not None else []
    sent = await exchange(app, method, path, auth)
    start = sent[0]
    names = [name.decode() for name, _ in start["headers"]]
    assert len(names) == len(set(names)), f"a header sent twice: {names}"
    head = {name.decode(): value.decode() for name, value in start["headers"] if name != b"x-request-id"}
    assert any(name == b"x-request-id" for name, _ in start["headers"])
    return start["status"], head, b"".join(m.get("body", b"") for m in sent[1:])


CASES = [  # (what, method, job or path, key), and whether the fast path answers it
    ("a running video", "GET", "running", "acme", True),
    ("a finished video", "GET", "done", "acme", True),
    ("a queued video", "GET", "queued", "acme", True),
    ("a team without quotas", "GET", "theirs", "globex", True),
    ("another team's video", "GET", "theirs", "acme", False),
    ("an unknown video", "GET", "/v1/videos/video_0000000000000000000000000000dead", "acme", False),
    ("no key", "GET", "running", None, False),
    ("a wrong key", "GET", "running", "sk-wrong-key-000000000000", False),
    ("the admin key", "GET", "running", ADMIN, False),
    ("HEAD", "HEAD", "running", "acme", False),
    ("its content", "GET", "/v1/videos/{done}/content", "acme", False),
    ("the list", "GET", "/v1/videos", "acme", False),
]


@pytest.mark.parametrize(("what", "method", "target", "team", "fast_answers"), CASES, ids=[c[0] for c in CASES])
async def test_a_poll_is_answered_the_same_with_and_without_the_fast_path(
    apps: tuple[Any, Any, dict[str, Job]],
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    method: str,
    target: str,
    team: str | None,
    fast_answers: bool,
) -> None:
    fast, slow, jobs = apps
    path = target.format(done=jobs["done"].id) if target.startswith("/") else f"/v1/videos/{jobs[target].id}"
    key = KEYS.get(team or "", team)
    logged: list[dict[str, Any]] = []
    monkeypatch.setattr(middleware, "write_request_line", lambda _rid, fields: logged.append(fields))
    monkeypatch.setattr(middleware, "write_poll_line", lambda _rid, fields: logged.append(fields))

    answered = await FastPolls(fast.state.ctx).answer(
        {"type": "http", "method": method, "path": path, "state": {}},
        {b"authorization": f"Bearer {key}".encode()} if key else {},
    )
    assert (answered is not None) == fast_answers, what

    status_fast, headers_fast, body_fast = await call(fast, method, path, key)
    status_slow, headers_slow, body_slow = await call(slow, method, path, key)
    assert status_fast == status_slow, (what, body_fast, body_slow)
    assert body_fast == body_slow, what
    assert headers_fast == headers_slow, what
    first, second = ({k: v for k, v in f.items() if k != "latency_ms"} for f in logged)
    assert first == second, what
    if fast_answers:
        assert status_fast == 200 and first["route"] == "retrieve_video" and first["tenant"] == team
        assert first["video_id"] == path.rsplit("/", 1)[1]
    if team == "acme" and status_fast == 200:
        assert "x-ratelimit-limit-requests" in headers_fast, headers_fast
    if target == "running" and status_fast == 200:
        assert "openai-poll-after-ms" in headers_fast
