"""Hostile input on every route of a real gateway, on the SQLite and the Redis store: never a 5xx.

Two families the readers' fuzzing (tests/test_fuzz_readers.py) does not reach, because they live in
the routes themselves:

* Unicode digits (``²``, ``٣``, ``U+FF15``, ``Ⅻ``) in every numeric field: ``str.isdigit`` says yes to ``²`` and
  ``int`` then fails; ``int`` takes ``٣`` and ``U+FF15``, which a range or count should never be written with.
* Raw non-ASCII header bytes (a header arrives as latin-1 text: the byte 0xB2 is ``²``) in ``Range``,
  ``Idempotency-Key``, ``Authorization``, ``Content-Type`` and ``Cache-Control``, on every route the app
  serves (taken from the faces' route tables, so a new route is fuzzed without editing this file).

Every answer is below 500, and every 4xx is OpenAI-shaped JSON (the console's static files and the
metrics text are not JSON and never refuse).
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from gateway.faces import (
    admin_videos,
    batches,
    characters,
    console,
    console_api,
    feedback,
    openai_videos,
    ops,
    seed_generations,
    stories,
    upstream_callbacks,
    usage,
)
from tests.conftest import KEYS, Gateway, start_gateway, store_url
from tests.procs import Proc, wait_for

ADMIN_KEY = "sk-admin-fuzz-routes-0123456789"
DIGITS = ["²", "٣", "\uff15", "Ⅻ"]  # the third: a fullwidth 5
HEADERS = ["Range", "Idempotency-Key", "Authorization", "Content-Type", "Cache-Control"]
RAW = [b"\xb2", b"bytes=\xb2-", b"\xff\xfe\x85\xa0 \xd9\xa3"]  # lone high bytes, a Range of one, mixed
ROUTE_TABLES = (
    ops,
    characters,
    openai_videos,
    seed_generations,
    usage,
    batches,
    stories,
    feedback,
    admin_videos,
    console_api,
    upstream_callbacks,
)
ALL_ROUTES = [*[r for m in ROUTE_TABLES for r in m.routes], *console.routes]
NOT_JSON = {"/", "/console", "/console/js/main.js", "/console/console.css", "/metrics"}
# a small valid body per POST route, so a hostile header is met where the route does its real work
BODIES: dict[str, dict[str, Any]] = {
    "/v1/videos": {"prompt": "a fuzzed lighthouse", "seconds": "4"},
    "/v1/videos/{video_id}/remix": {"prompt": "a fuzzed remix"},
    "/v1/videos/extensions": {"video": {"id": "{video_id}"}, "prompt": "and on", "seconds": "4"},
    "/v1/videos/edits": {"video": {"id": "{video_id}"}, "prompt": "an edit"},
    "/v1/video/generations": {"prompt": "a fuzzed lighthouse", "duration_seconds": 4},
    "/v1/gateway/batches": {"prompt": "a fuzzed batch", "n": 2, "seconds": "4"},
    "/v1/gateway/stories": {"scenes": [{"prompt": "one", "seconds": 4}, {"prompt": "two", "seconds": 4}]},
    "/v1/videos/{video_id}/feedback": {"rating": 4, "scores": {"visual_quality": 7}},
    "/v1/videos/characters": {"name": "fuzz"},
}


def _fields(route: str, digit: str) -> list[tuple[str, dict[str, Any]]]:
    """``(name, body)`` for every numeric field of ``route`` with ``digit`` in it."""
    base = BODIES[route]
    cases: dict[str, dict[str, Any]] = {
        "/v1/videos": {"seconds": digit, "size": f"1280x{digit}20"},
        "/v1/videos/extensions": {"seconds": digit},
        "/v1/video/generations": {"duration_seconds": digit, "resolution": f"{digit}20p"},
        "/v1/gateway/batches": {"n": digit, "seconds": digit},
        "/v1/videos/{video_id}/feedback": {"rating": digit, "scores": {"visual_quality": digit}},
    }.get(route, {})
    return [(name, {**base, name: value}) for name, value in cases.items()]


NUMERIC_CASES = [
    pytest.param(route, digit, name, body, id=f"{route}:{name}={digit}")
    for route in BODIES
    for digit in DIGITS
    for name, body in _fields(route, digit)
]
# a story scene's ``seconds`` ("²" passes ``isdigit``): read by the faces' request reader
KNOWN_500_PATHS: set[str] = set()  # routes whose 500s are known (none)
STORY_SCENES = [pytest.param(d, id=f"scene-seconds={d}") for d in DIGITS]
QUERY_CASES = [
    pytest.param(path, f"{name}={quote(digit)}", id=f"{path}?{name}={digit}")
    for path, names in (
        ("/v1/videos", ("limit", "after", "order")),
        ("/v1/gateway/admin/videos", ("limit", "tenant")),
        ("/v1/videos/{video_id}/content", ("variant",)),
        ("/v1/gateway/feedback/summary", ("group_by",)),
        ("/v1/gateway/usage", ("tenant",)),
    )
    for name in names
    for digit in DIGITS
]
HEADER_CASES = [
    pytest.param(method, route.path, header, raw, id=f"{method} {route.path} {header}:{raw!r}")
    for route in ALL_ROUTES
    for method in sorted(route.methods or ())
    if method != "HEAD"
    for header in HEADERS
    for raw in RAW
]


@dataclass
class World:
    gw: Gateway
    ids: dict[str, str]

    def path(self, template: str) -> str:
        return template.format(**self.ids)

    def body(self, body: dict[str, Any]) -> bytes:
        return json.dumps(body).replace("{video_id}", self.ids["video_id"]).encode()


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def world(
    request: pytest.FixtureRequest, simulator_2026: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    gw = start_gateway(simulator_2026, tmp, store_url(request.param, tmp), env={"SORA_GATEWAY_ADMIN_KEY": ADMIN_KEY})
    try:
        with gw.http() as client:
            created = client.post("/v1/videos", json={"prompt": "the fuzz target", "seconds": "4"}).json()
            video_id = created["id"]
            wait_for(lambda: client.get(f"/v1/videos/{video_id}").json()["status"] == "completed", "a video", 120)
            batch = client.post("/v1/gateway/batches", json={"prompt": "the fuzz batch", "n": 2}).json()
        ids = {"video_id": video_id, "generation_id": video_id, "batch_id": batch["id"], "character_id": "char_x"}
        ids["name"] = "main.js"  # the console's entry module
        ids |= {"segment": "0", "token": "not-the-token"}  # a provider callback's path: refused, 404
        yield World(gw, ids)
    finally:
        gw.proc.stop()
    unhandled = [e for e in log_events(gw.proc.logs()) if e.get("event") == "unhandled_error"]
    assert {e.get("path") for e in unhandled} <= KNOWN_500_PATHS, unhandled[:3]


def log_events(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            assert "Traceback" not in line, text[-3000:]  # every error is a JSON log line, never a bare traceback
    return events


def send(gw: Gateway, method: str, path: str, headers: dict[str, bytes], body: bytes = b"") -> tuple[int, bytes]:
    """One request over a raw socket (no client refuses these bytes); the status and the body."""
    host, port = gw.url.removeprefix("http://").split(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n".encode()
    for name, value in headers.items():
        head += name.encode() + b": " + value + b"\r\n"
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3})", status_line)
    assert match, answer[:200]
    return int(match.group(1)), rest.partition(b"\r\n\r\n")[2]


def check(status: int, body: bytes, path: str, what: str) -> None:
    assert status < 500, f"{what}: {status} {body[:300]!r}"
    if status >= 400 and path not in NOT_JSON:
        error = json.loads(body)["error"]
        assert set(error) == {"message", "type", "param", "code"}, (what, error)


def auth_for(path: str) -> bytes:
    key = ADMIN_KEY if "/admin/" in path else KEYS["acme"]
    return b"Bearer " + key.encode()


def test_every_route_is_fuzzed() -> None:
    """The header matrix covers the routes the app serves: every face's table, nothing left out."""
    from gateway import app as app_module

    served = set(re.findall(r"\*(\w+)\.routes", Path(app_module.__file__).read_text()))
    fuzzed = {m.__name__.rsplit(".", 1)[1] for m in (*ROUTE_TABLES, console)}
    assert served == fuzzed, served ^ fuzzed
    assert len({p.values[1] for p in HEADER_CASES}) == len({r.path for r in ALL_ROUTES}) >= 25


@pytest.mark.parametrize(("route", "digit", "name", "body"), NUMERIC_CASES)
def test_unicode_digits_in_numeric_fields(
    world: World, route: str, digit: str, name: str, body: dict[str, Any]
) -> None:
    path = world.path(route)
    headers = {"Authorization": auth_for(path), "Content-Type": b"application/json"}
    status, answer = send(world.gw, "POST", path, headers, world.body(body))
    check(status, answer, path, f"{route} {name}={digit!r}")
    if status >= 400:  # refused naming the field (``٣`` and ``U+FF15`` may be read as the digits they are)
        assert json.loads(answer)["error"]["param"].split(".")[0] in (name, "scores"), answer[:300]
    if route == "/v1/videos" and name == "seconds":  # the SDK's multipart form too
        boundary = "fuzzb"
        form = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in body.items()
        )
        raw = (form + f"--{boundary}--\r\n").encode()
        content_type = f"multipart/form-data; boundary={boundary}".encode()
        status, answer = send(world.gw, "POST", path, {**headers, "Content-Type": content_type}, raw)
        check(status, answer, path, f"multipart {name}={digit!r}")


@pytest.mark.parametrize("digit", STORY_SCENES)
def test_unicode_digits_in_a_story_scene(world: World, digit: str) -> None:
    body = {"scenes": [{"prompt": "one", "seconds": digit}, {"prompt": "two", "seconds": 4}]}
    headers = {"Authorization": auth_for(""), "Content-Type": b"application/json"}
    status, answer = send(world.gw, "POST", "/v1/gateway/stories", headers, world.body(body))
    check(status, answer, "/v1/gateway/stories", f"scenes[0].seconds={digit!r}")
    if status >= 400:
        assert json.loads(answer)["error"]["param"] == "scenes[0].seconds", answer[:300]


@pytest.mark.parametrize(("template", "query"), QUERY_CASES)
def test_unicode_digits_in_query_parameters(world: World, template: str, query: str) -> None:
    path = world.path(template)
    status, answer = send(world.gw, "GET", f"{path}?{query}", {"Authorization": auth_for(path)})
    check(status, answer, path, f"{path}?{query}")


@pytest.mark.parametrize(("method", "template", "header", "raw"), HEADER_CASES)
def test_raw_header_bytes_on_every_route(world: World, method: str, template: str, header: str, raw: bytes) -> None:
    path = world.path(template)
    if method == "DELETE":  # a video of its own to delete (the same prompt: a cache hit after the first)
        with world.gw.http() as client:
            victim = client.post("/v1/videos", json={"prompt": "a fuzzed victim", "seconds": "4"}).json()["id"]
        path = path.replace(world.ids["video_id"], victim)
    headers = {"Authorization": auth_for(path), header: raw}
    body = b""
    if method == "POST":
        headers.setdefault("Content-Type", b"application/json")
        body = world.body(BODIES.get(template, {"prompt": "x"}))
    status, answer = send(world.gw, method, path, headers, body)
    check(status, answer, path, f"{method} {path} {header}: {raw!r}")
    if header == "Range" and template.endswith("/content") and status != 401:
        error = json.loads(answer)["error"]
        assert (status, error["code"], error["param"]) == (400, "invalid_range", "Range"), answer[:300]
