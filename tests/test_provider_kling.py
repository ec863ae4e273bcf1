"""The Kling dialect against the simulated Kling classic API (a real simulator process), and its JWT.

What the simulator checks is Kling's documented wire format: the JWT (HS256, ``iss``/``exp``/``nbf``), field
types (``duration`` a string), enums, the ``{"code", "message", "request_id"}`` envelope with Kling's codes.
The literal create body is compared with the vendor's example (spec note §3.2), and the token is decoded with an
independent JOSE library (joserfc).
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import OctKey

from gateway.core.models import Reference
from gateway.jobs.reconcile import find_lost
from gateway.media.probe import probe_duration, probe_video
from gateway.providers.kling.credentials import KlingToken, encode_jwt
from gateway.providers.kling.dialect import KlingUpstream
from gateway.providers.kling.errors import envelope_error, kling_error
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.procs import Proc, start_simulator

ACCESS, SECRET = "ak-kling-test-0001", "sk-kling-SECRET-0123456789abcdef"
KEY = f"{ACCESS}:{SECRET}"
JWT_HEADER = {"alg": "HS256", "typ": "JWT"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="kling", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def kling(sim: Proc) -> AsyncIterator[KlingUpstream]:
    adapter = KlingUpstream(sim.url, KEY)
    yield adapter
    await adapter.close()


def stats(sim: Proc) -> dict[str, int]:
    return dict(httpx.get(sim.url + "/_sim/stats").json()["calls"])


def faults(sim: Proc, spec: str) -> None:
    assert httpx.post(sim.url + "/_sim/faults", json={"faults": spec}).status_code == 200


def expire(sim: Proc, task_id: str) -> None:
    assert httpx.post(f"{sim.url}/_sim/expire/{task_id}").status_code == 200


def png_bytes(width: int, height: int) -> bytes:
    """A real grey PNG (8-bit) of ``width`` x ``height``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png(path: Path, width: int, height: int) -> Path:
    path.write_bytes(png_bytes(width, height))
    return path


def spec(**kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": "a red fox in snow", "model": "kling-v2-5-turbo"}
    fields.update(size="1280x720", seconds=5, idempotency_key=f"vid_{time.time_ns()}-0-1")
    fields.update(kw)
    return GenerationSpec(**fields)


async def until_done(kling: KlingUpstream, upstream_id: str) -> UpstreamVideo:
    for _ in range(1200):
        video = await kling.retrieve(upstream_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"{upstream_id} never finished")


async def download(kling: KlingUpstream, upstream_id: str, path: Path) -> dict[str, Any]:
    stream = await kling.open_content(upstream_id, "video")
    try:
        path.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    finally:
        await stream.close()
    return {**probe_video(path), "duration": probe_duration(path)}


def bearer(sim: Proc, token: str) -> httpx.Client:
    return httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def fresh_token() -> str:
    return encode_jwt(ACCESS, SECRET, int(time.time()), 1800)


# -- create, poll, download ------------------------------------------------------------------------------------------
async def test_text2video_sends_kling_fields_and_renders_the_shape(
    kling: KlingUpstream, sim: Proc, tmp_path: Path
) -> None:
    sent: list[httpx.Request] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(request)

    kling.http.client.event_hooks["request"].append(keep)
    ask = spec(size="720x1280", seconds=10, negative_prompt="blur, text", idempotency_key="vid_abc-0-1")
    created = await kling.create(ask)
    assert created.id.startswith("text2video:") and created.status == "queued"
    assert created.client_token == "vid_abc-0-1"
    post = sent[0]
    assert (post.method, post.url.path) == ("POST", "/v1/videos/text2video")
    assert post.headers["content-type"] == "application/json"
    assert json.loads(post.content) == {  # the vendor example's fields and types (duration a string)
        "model_name": "kling-v2-5-turbo",
        "prompt": "a red fox in snow",
        "negative_prompt": "blur, text",
        "duration": "10",
        "mode": "std",
        "aspect_ratio": "9:16",
        "external_task_id": "vid_abc-0-1",
    }
    scheme, _, token = post.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    decoded = jose_jwt.decode(token, OctKey.import_key(SECRET), algorithms=["HS256"])
    assert decoded.header == JWT_HEADER
    assert decoded.claims["iss"] == ACCESS and decoded.claims["exp"] - decoded.claims["nbf"] == 1800 + 5
    done = await until_done(kling, created.id)
    assert done.status == "completed" and done.progress == 100 and done.seconds == "10"
    before = stats(sim)
    info = await download(kling, created.id, tmp_path / "t2v.mp4")
    assert (info["width"], info["height"]) == (720, 1280) and abs(info["duration"] - 10.0) <= 0.1
    after = stats(sim)
    assert after["kling_cdn"] == before["kling_cdn"] + 1
    assert after["kling_cdn_with_auth"] == 0  # the CDN never sees Kling's token
    assert all(r.headers["content-type"] == "application/json" for r in sent if r.url.path.startswith("/v1/"))
    assert [r.url.path for r in sent if r.url.path.startswith("/kcdn")] and all(
        "authorization" not in r.headers for r in sent if r.url.path.startswith("/kcdn")
    )


async def test_pro_mode_is_the_1080p_shape(kling: KlingUpstream, tmp_path: Path) -> None:
    created = await kling.create(spec(size="1920x1080", seconds=5, model="kling-v2-6"))
    assert (await until_done(kling, created.id)).status == "completed"
    info = await download(kling, created.id, tmp_path / "pro.mp4")
    assert (info["width"], info["height"]) == (1920, 1080) and abs(info["duration"] - 5.0) <= 0.1


async def test_image2video_sends_raw_base64_and_follows_the_image(
    kling: KlingUpstream, sim: Proc, tmp_path: Path
) -> None:
    sent: list[bytes] = []

    async def keep(request: httpx.Request) -> None:
        if request.method == "POST":
            sent.append(request.content)

    kling.http.client.event_hooks["request"].append(keep)
    image = png(tmp_path / "first.png", 640, 360)
    before = stats(sim)["kling_image2video"]
    ref = Reference(filename="first.png", content_type="image/png", path=str(image))
    created = await kling.create(spec(reference=ref, size="1280x720", seconds=5, model="kling-v2-6"))
    assert created.id.startswith("image2video:")
    assert stats(sim)["kling_image2video"] == before + 1
    body = json.loads(sent[0])
    assert "aspect_ratio" not in body and body["duration"] == "5" and body["mode"] == "std"
    assert base64.b64decode(body["image"], validate=True) == image.read_bytes()  # no data: prefix
    assert (await until_done(kling, created.id)).status == "completed"
    info = await download(kling, created.id, tmp_path / "i2v.mp4")
    assert (info["width"], info["height"]) == (1280, 720) and abs(info["duration"] - 5.0) <= 0.1


async def test_v3_takes_its_own_lengths(kling: KlingUpstream, tmp_path: Path) -> None:
    created = await kling.create(spec(model="kling-v3", size="1080x1920", seconds=12))
    assert (await until_done(kling, created.id)).status == "completed"
    info = await download(kling, created.id, tmp_path / "v3.mp4")
    assert (info["width"], info["height"]) == (1080, 1920) and abs(info["duration"] - 12.0) <= 0.1


# -- Kling's own 400s for wrong types and values ---------------------------------------------------------------------
WRONG = [
    ({"duration": 5}, "duration"),  # a number where Kling documents a string
    ({"duration": "7"}, "duration"),
    ({"mode": "standard"}, "mode"),
    ({"aspect_ratio": "4:3"}, "aspect_ratio"),
    ({"cfg_scale": "0.5"}, "cfg_scale"),
    ({"prompt": ["a", "b"]}, "prompt"),
    ({"size": "1280x720"}, "size"),  # not a Kling field
    ({"model_name": "sora-2"}, "sora-2"),
    ({"sound": "on"}, "sound"),  # kling-v2-5-turbo has no sound
]


@pytest.mark.parametrize(("change", "named"), WRONG)
def test_wrong_types_and_values_get_kling_400(sim: Proc, change: dict[str, Any], named: str) -> None:
    body = {"model_name": "kling-v2-5-turbo", "prompt": "a kite", "duration": "5", **change}
    before = httpx.get(sim.url + "/_sim/stats").json()["generations"]
    with bearer(sim, fresh_token()) as http:
        answer = http.post("/v1/videos/text2video", json=body)
    assert answer.status_code == 400
    envelope = answer.json()
    assert set(envelope) == {"code", "message", "request_id"} and envelope["code"] == 1201
    assert named in envelope["message"]
    assert httpx.get(sim.url + "/_sim/stats").json()["generations"] == before


def test_image2video_refuses_a_data_uri_and_a_tiny_image(sim: Proc, tmp_path: Path) -> None:
    data = base64.b64encode(png(tmp_path / "x.png", 640, 360).read_bytes()).decode()
    tiny = base64.b64encode(png(tmp_path / "t.png", 64, 64).read_bytes()).decode()
    with bearer(sim, fresh_token()) as http:
        prefixed = http.post(
            "/v1/videos/image2video", json={"model_name": "kling-v2-6", "image": "data:image/png;base64," + data}
        )
        small = http.post("/v1/videos/image2video", json={"model_name": "kling-v2-6", "image": tiny})
        missing = http.post("/v1/videos/image2video", json={"model_name": "kling-v2-6", "prompt": "x"})
        ratio = http.post(
            "/v1/videos/image2video", json={"model_name": "kling-v2-6", "image": data, "aspect_ratio": "16:9"}
        )
    assert prefixed.status_code == 400 and prefixed.json()["message"] == "File is not in a valid base64 format"
    assert small.status_code == 400 and small.json()["code"] == 1201 and "300px" in small.json()["message"]
    assert missing.status_code == 400 and missing.json()["message"] == "image can not be null"
    assert ratio.status_code == 400 and "aspect_ratio" in ratio.json()["message"]  # not an image2video field


async def test_a_kling_400_is_invalid_value_naming_kling_message(kling: KlingUpstream) -> None:
    with pytest.raises(UpstreamError) as err:
        await kling.create(spec(seconds=7))
    assert err.value.status == 400 and err.value.code == "invalid_value" and err.value.client_fault
    assert "Kling 1201" in err.value.message and "duration" in err.value.message


# -- auth ------------------------------------------------------------------------------------------------------------
def test_kling_refuses_bad_tokens_with_its_codes(sim: Proc) -> None:
    now = int(time.time())
    cases = {
        "": 1001,
        "Token abc": 1002,
        "Bearer not-a-jwt.at.all": 1002,
        "Bearer " + encode_jwt(ACCESS, "sk-wrong-secret-000000000", now, 1800): 1000,  # bad signature
        "Bearer " + encode_jwt("ak-unknown", SECRET, now, 1800): 1000,
        "Bearer " + encode_jwt(ACCESS, SECRET, now - 3600, 1800): 1004,  # expired 30 min ago
        "Bearer " + encode_jwt(ACCESS, SECRET, now + 600, 1800): 1003,  # nbf 10 min ahead
    }
    for header, code in cases.items():
        answer = httpx.get(sim.url + "/v1/videos/text2video", headers={"Authorization": header} if header else {})
        assert answer.status_code == 401, header
        assert answer.json()["code"] == code and answer.json()["request_id"], header
    ok = httpx.get(sim.url + "/v1/videos/text2video", headers={"Authorization": "Bearer " + fresh_token()})
    assert ok.status_code == 200 and ok.json()["code"] == 0 and isinstance(ok.json()["data"], list)


async def test_a_wrong_key_is_a_401(sim: Proc) -> None:
    adapter = KlingUpstream(sim.url, f"{ACCESS}:sk-not-the-secret-00000000")
    try:
        with pytest.raises(UpstreamError) as err:
            await adapter.create(spec())
        assert err.value.status == 401 and err.value.code == "invalid_api_key" and "Kling 1000" in err.value.message
        assert "sk-not-the-secret" not in err.value.message
    finally:
        await adapter.close()


async def test_the_token_is_renewed_before_it_expires(sim: Proc) -> None:
    """A 4 s token renewed when under 3 s are left: a client that kept its first token would be refused (1004)."""
    adapter = KlingUpstream(sim.url, KEY, token_lifetime_s=4, renew_before_s=3)
    try:
        first = adapter.token.current()
        before, made = stats(sim)["kling_list"], 0
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            assert len(await adapter.list_models()) == 6
            made += 1
            await asyncio.sleep(0.4)
        assert stats(sim)["kling_list"] - before == made  # never refused: each token was renewed before its end
        assert adapter.token.minted >= 3
        with bearer(sim, first) as http:
            kept = http.get("/v1/videos/text2video")
        assert kept.status_code == 401 and kept.json()["code"] == 1004
    finally:
        await adapter.close()


def test_token_cache_and_renewal_point() -> None:
    now = [1_000_000.0]
    token = KlingToken(KEY, lifetime_s=1800, renew_before_s=300, clock=lambda: now[0])
    first = token.current()
    now[0] += 1499  # 301 s left: the same token
    assert token.current() == first and token.minted == 1
    now[0] += 2  # 299 s left: a new one
    second = token.current()
    assert second != first and token.minted == 2
    claims = jose_jwt.decode(second, OctKey.import_key(SECRET), algorithms=["HS256"]).claims
    assert claims == {"iss": ACCESS, "exp": 1_001_501 + 1800, "nbf": 1_001_501 - 5}
    plain = KlingToken("kling-api-key-without-colon")
    assert not plain.is_jwt and plain.current() == "kling-api-key-without-colon"


async def test_an_expired_token_is_minted_again_and_sent_once_more(sim: Proc) -> None:
    """Kling advises re-minting on 1003/1004 (clock skew): the first token here is minted an hour behind."""
    adapter = KlingUpstream(sim.url, KEY)
    skew = [-3600.0]

    def clock() -> float:
        offset, skew[0] = skew[0], 0.0
        return time.time() + offset

    adapter.token.clock = clock
    try:
        before = stats(sim)["kling_list"]
        assert len(await adapter.list_models()) == 6
        assert adapter.token.minted == 2
        assert stats(sim)["kling_list"] == before + 2  # refused once (1004), then accepted
    finally:
        await adapter.close()


# -- limits, quota, safety -------------------------------------------------------------------------------------------
async def test_kling_rate_limit_is_a_429(kling: KlingUpstream, sim: Proc) -> None:
    faults(sim, "429=1")
    try:
        with pytest.raises(UpstreamError) as err:
            await kling.create(spec())
        with bearer(sim, fresh_token()) as http:
            raw = http.post("/v1/videos/text2video", json={"model_name": "kling-v2-6", "prompt": "x"})
    finally:
        faults(sim, "")
    assert err.value.status == 429 and err.value.code == "rate_limited" and err.value.retryable
    assert raw.status_code == 429 and raw.json()["code"] == 1302 and "retry-after" not in raw.headers


async def test_kling_concurrency_limit_is_a_429() -> None:
    busy = start_simulator("--api-key", KEY, "--max-concurrent", "1", profile="kling", time_scale=10)
    adapter = KlingUpstream(busy.url, KEY)
    try:
        await adapter.create(spec())
        with pytest.raises(UpstreamError) as err:
            await adapter.create(spec())
        with bearer(busy, fresh_token()) as http:
            raw = http.post("/v1/videos/text2video", json={"model_name": "kling-v2-6", "prompt": "x"})
    finally:
        await adapter.close()
        busy.stop()
    assert err.value.status == 429 and err.value.code == "concurrency_limited"
    assert raw.status_code == 429
    assert raw.json()["code"] == 1303 and raw.json()["message"] == "parallel task over resource pack limit"


def test_quota_and_server_codes_map_whatever_the_http_status() -> None:
    depleted = kling_error(httpx.Response(429, json={"code": 1102, "message": "Account balance not enough"}))
    assert (depleted.status, depleted.code) == (429, "quota_exhausted")
    in_a_200 = envelope_error({"code": 1303, "message": "parallel task over resource pack limit"}, 200)
    assert (in_a_200.status, in_a_200.code) == (429, "concurrency_limited")
    backlog = kling_error(httpx.Response(504, json={"code": 5002, "message": "timeout"}))
    assert backlog.status == 504 and backlog.retryable
    gateway_page = kling_error(httpx.Response(502, text="<html>bad gateway</html>"))
    assert gateway_page.status == 502 and gateway_page.retryable


async def test_a_flagged_prompt_is_refused_synchronously(kling: KlingUpstream, sim: Proc) -> None:
    before = stats(sim)["kling_text2video"]
    with pytest.raises(UpstreamError) as err:
        await kling.create(spec(prompt="something forbidden"))
    assert err.value.status == 400 and err.value.code == "moderation_blocked"
    assert "Kling 1301" in err.value.message and "Content security policy" in err.value.message
    assert stats(sim)["kling_text2video"] == before + 1


async def test_a_task_failed_by_risk_control_is_moderation_blocked(kling: KlingUpstream, tmp_path: Path) -> None:
    ref = Reference(filename="f.png", content_type="image/png", path=str(png(tmp_path / "f.png", 400, 400)))
    created = await kling.create(spec(reference=ref, prompt="make it forbidden", model="kling-v2-6"))
    assert created.status == "queued"  # accepted, then failed by the output check
    failed = await until_done(kling, created.id)
    assert failed.status == "failed"
    assert failed.error == {"code": "moderation_blocked", "message": "Failure to pass the risk control system"}


async def test_a_failed_task_is_a_retryable_generation_failure(kling: KlingUpstream, sim: Proc) -> None:
    faults(sim, "fail=1")
    try:
        created = await kling.create(spec())
    finally:
        faults(sim, "")
    failed = await until_done(kling, created.id)
    assert failed.error is not None and failed.error["code"] == "video_generation_failed"


# -- listing, lost creates, expiry -----------------------------------------------------------------------------------
async def test_a_lost_create_is_found_by_its_external_task_id(sim: Proc) -> None:
    sent_at = time.time()
    first = KlingUpstream(sim.url, KEY)
    ask = spec(idempotency_key=f"vid_lost-{time.time_ns()}-0-1")
    try:
        created = await first.create(ask)  # the gateway "died" before it saved this answer
    finally:
        await first.close()
    later = KlingUpstream(sim.url, KEY)  # a fresh replica, knowing only the segment's key
    try:
        found = await find_lost(later, None, "job:0", ask, sent_at)
        assert found is not None and found.id == created.id and found.client_token == ask.idempotency_key
        other = spec(idempotency_key="vid_never-sent-0-1")
        assert await find_lost(later, None, "job:1", other, sent_at) is None
        page = await later.list_page()
        assert created.id in [v.id for v in page.videos] and not page.has_more
        with pytest.raises(UpstreamError) as err:  # the simulator keeps external_task_id unique per account
            await later.create(ask)
        assert err.value.status == 400
    finally:
        await later.close()


async def test_a_task_is_queried_by_task_id_or_external_id(kling: KlingUpstream, sim: Proc) -> None:
    ask = spec(idempotency_key=f"vid_query-{time.time_ns()}-0-1")
    created = await kling.create(ask)
    task_id = created.id.split(":", 1)[1]
    with bearer(sim, fresh_token()) as http:
        by_id = http.get(f"/v1/videos/text2video/{task_id}").json()
        by_external = http.get(f"/v1/videos/text2video/{ask.idempotency_key}").json()
        by_query = http.get("/v1/videos/text2video", params={"external_task_id": ask.idempotency_key}).json()
        wrong_action = http.get(f"/v1/videos/image2video/{task_id}")
        listed = http.get("/v1/videos/text2video", params={"pageNum": "1", "pageSize": "500"}).json()
        bad_page = http.get("/v1/videos/text2video", params={"pageSize": "501"})
    assert by_id["data"]["task_id"] == by_external["data"]["task_id"] == by_query["data"]["task_id"] == task_id
    assert by_id["message"] == "SUCCEED" and isinstance(by_id["data"]["created_at"], int)
    assert by_id["data"]["task_info"] == {"external_task_id": ask.idempotency_key}
    assert wrong_action.status_code == 404 and wrong_action.json()["code"] == 1203
    assert task_id in [t["task_id"] for t in listed["data"]]
    assert bad_page.status_code == 400 and bad_page.json()["code"] == 1201


async def test_an_unknown_task_is_a_404(kling: KlingUpstream) -> None:
    with pytest.raises(UpstreamError) as err:
        await kling.retrieve("text2video:100000000000000000")
    assert err.value.status == 404 and err.value.code == "not_found"


async def test_an_expired_result_is_content_expired(kling: KlingUpstream, sim: Proc) -> None:
    created = await kling.create(spec())
    assert (await until_done(kling, created.id)).status == "completed"
    expire(sim, created.id.split(":", 1)[1])
    with pytest.raises(UpstreamError) as err:
        await kling.open_content(created.id, "video")
    assert err.value.status == 404 and err.value.code == "content_expired"
    with pytest.raises(UpstreamError) as thumb:
        await kling.open_content(created.id, "thumbnail")
    assert thumb.value.status == 404


async def test_what_kling_does_not_have(kling: KlingUpstream) -> None:
    with pytest.raises(UpstreamError) as err:
        await kling.create(spec(kind="remix", source_id="text2video:1"))
    assert err.value.status == 400 and err.value.code == "unsupported_by_upstream"
    assert await kling.moderate("x") is None and await kling.complete_chat("m", []) is None
    status, body = await kling.forward("GET", "/characters")
    assert status == 404 and body["error"]["message"]
