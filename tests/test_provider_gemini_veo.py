"""The Veo dialect against the simulated Gemini API (a real simulator process).

What the simulator checks is the Gemini API's documented wire format (spec note /work/notes/providers/
gemini-veo.md): ``x-goog-api-key``, ``instances[0]``/``parameters`` field names and JSON types
(``durationSeconds`` a number: a string is the live API's 400), the Vertex-only fields refused, Google's
``{"error": {"code", "message", "status", "details"}}`` envelope, the long-running operation and its
``done``/``response``/``error`` forms, Veo's safety filter, the file URI that needs the key.
The literal create body is compared with the spec note's example (§2.1.2).
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.models import Reference
from gateway.media.probe import probe_duration, probe_video
from gateway.providers.gemini_veo.dialect import GeminiVeoUpstream, veo_base
from gateway.providers.gemini_veo.errors import error_from_response, operation_error
from gateway.providers.gemini_veo.wire import create_body, inline_video, parse_operation
from gateway.upstreams.base import GenerationSpec, UpstreamError, UpstreamVideo
from tests.procs import Proc, start_simulator

KEY = "AIzaSy-veo-test-SECRET-0123456789abcdef"
FAST, STANDARD, LITE = "veo-3.1-fast-generate-preview", "veo-3.1-generate-preview", "veo-3.1-lite-generate-preview"
VEO3, VEO2 = "veo-3.0-generate-001", "veo-2.0-generate-001"
# names an operation (and Google's error) may hold, for the fuzzing at the end
OPERATION_KEYS = (
    "name", "done", "error", "response", "generateVideoResponse", "generatedSamples", "video", "uri",
    "encodedVideo", "raiMediaFilteredCount", "raiMediaFilteredReasons", "code", "message", "status", "details",
    "@type", "reason", "retryDelay",
)  # fmt: skip


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator("--api-key", KEY, profile="gemini-veo", time_scale=0.004)
    yield proc
    assert proc.stop() == 0, proc.logs()


@pytest.fixture
async def veo(sim: Proc) -> AsyncIterator[GeminiVeoUpstream]:
    adapter = GeminiVeoUpstream(sim.url + "/v1beta", KEY)
    yield adapter
    await adapter.close()


def calls(sim: Proc) -> dict[str, int]:
    return dict(httpx.get(sim.url + "/_sim/stats").json()["calls"])


def faults(sim: Proc, spec: str) -> None:
    assert httpx.post(sim.url + "/_sim/faults", json={"faults": spec}).status_code == 200


def png_bytes(width: int, height: int) -> bytes:
    """A real grey PNG (8-bit) of ``width`` x ``height``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def image_ref(path: Path) -> Reference:
    path.write_bytes(png_bytes(64, 36))
    return Reference(filename=path.name, content_type="image/png", path=str(path))


def spec(**kw: Any) -> GenerationSpec:
    fields: dict[str, Any] = {"kind": "create", "prompt": "a red fox in snow", "model": FAST}
    fields.update(size="1280x720", seconds=8, idempotency_key="vid_x-0-1")
    fields.update(kw)
    return GenerationSpec(**fields)


async def raw(method: str, url: str, **kw: Any) -> httpx.Response:
    """A plain request from an async test (as a client other than the dialect would send it)."""
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kw)


def create_url(sim: Proc, model: str = FAST) -> str:
    return f"{sim.url}/v1beta/models/{model}:predictLongRunning"


async def until_done(veo: GeminiVeoUpstream, upstream_id: str) -> UpstreamVideo:
    for _ in range(1200):
        video = await veo.retrieve(upstream_id)
        if video.status in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError(f"{upstream_id} never finished")


async def download(veo: GeminiVeoUpstream, upstream_id: str, path: Path) -> dict[str, Any]:
    stream = await veo.open_content(upstream_id, "video")
    try:
        path.write_bytes(b"".join([chunk async for chunk in stream.chunks]))
    finally:
        await stream.close()
    return {**probe_video(path), "duration": probe_duration(path)}


# -- the body on the wire --------------------------------------------------------------------------------------------
async def test_the_create_body_is_the_documented_one() -> None:
    body = await create_body(spec(size="1280x720", seconds=6, negative_prompt="text, watermark"))
    assert json.dumps(body) == json.dumps(
        {
            "instances": [{"prompt": "a red fox in snow"}],
            "parameters": {
                "aspectRatio": "16:9",
                "resolution": "720p",
                "durationSeconds": 6,
                "negativePrompt": "text, watermark",
            },
        }
    )  # spec note §2.1.2, text-to-video: durationSeconds a JSON number, no seed, no Idempotency-Key equivalent
    portrait = await create_body(spec(size="1080x1920", seconds=8, seed=7, enhance_prompt=True))
    assert portrait["parameters"] == {
        "aspectRatio": "9:16", "resolution": "1080p", "durationSeconds": 8, "enhancePrompt": True,
    }  # fmt: skip
    assert "resolution" not in (await create_body(spec(model=VEO2, seconds=5)))["parameters"]  # Veo 2: unsupported


async def test_an_image_goes_inline_with_its_type(tmp_path: Path) -> None:
    first, last = image_ref(tmp_path / "a.png"), image_ref(tmp_path / "b.png")
    body = await create_body(spec(reference=first, last_frame=last))
    instance = body["instances"][0]
    assert set(instance) == {"prompt", "image", "lastFrame"}
    assert instance["image"] == {
        "bytesBase64Encoded": base64.b64encode(png_bytes(64, 36)).decode(),
        "mimeType": "image/png",
    }
    with pytest.raises(UpstreamError) as err:
        await create_body(spec(last_frame=last))  # Veo takes a last frame only with a first one
    assert (err.value.status, err.value.param) == (400, "last_frame")
    with pytest.raises(UpstreamError) as err:
        await create_body(spec(model=VEO3, reference=first, last_frame=last))
    assert err.value.code == "unsupported_by_upstream"


async def test_what_veo_does_not_have(veo: GeminiVeoUpstream) -> None:
    for kind in ("remix", "extend", "edit"):
        with pytest.raises(UpstreamError) as err:
            await veo.create(spec(kind=kind, source_id="models/x/operations/y"))
        assert err.value.code == "unsupported_by_upstream"
    with pytest.raises(UpstreamError) as err:
        await veo.create(spec(size="1920x1080", seconds=4))  # 1080p only at 8 s: refused before it is sent
    assert (err.value.status, err.value.param) == (400, "seconds")
    with pytest.raises(UpstreamError) as err:
        await veo.open_content("models/x/operations/y", "thumbnail")
    assert err.value.status == 404
    assert veo.lists is False
    await veo.delete("models/x/operations/y")  # nothing to cancel: a no-op
    assert (await veo.forward("GET", "/characters"))[0] == 404


def test_the_base_url_is_the_v1beta_api() -> None:
    official = "https://generativelanguage.googleapis.com/v1beta"
    assert veo_base(official) == veo_base(official + "/") == official
    assert veo_base("https://generativelanguage.googleapis.com") == official
    assert veo_base("https://generativelanguage.googleapis.com/v1") == official
    assert veo_base("https://proxy.example/gemini") == "https://proxy.example/gemini/v1beta"


# -- create, poll, download ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "size", "seconds"), [(FAST, "720x1280", 4), (LITE, "1280x720", 6), (VEO2, "720x1280", 5)]
)
async def test_create_poll_download_renders_the_shape(
    veo: GeminiVeoUpstream, sim: Proc, tmp_path: Path, model: str, size: str, seconds: int
) -> None:
    before = calls(sim)
    created = await veo.create(spec(model=model, size=size, seconds=seconds))
    assert created.status == "queued" and created.id.startswith(f"models/{model}/operations/")
    done = await until_done(veo, created.id)
    assert done.status == "completed" and done.progress == 100, done.error
    info = await download(veo, created.id, tmp_path / "v.mp4")
    assert f"{info['width']}x{info['height']}" == size
    assert abs(info["duration"] - seconds) <= 0.1
    after = calls(sim)
    assert after["veo_create"] - before["veo_create"] == 1
    assert after["veo_storage"] - before["veo_storage"] == 1
    assert after["veo_storage_key_sent"] == 0  # the signed URL never got the key


async def test_image_to_video_with_a_last_frame(veo: GeminiVeoUpstream, tmp_path: Path) -> None:
    first, last = image_ref(tmp_path / "a.png"), image_ref(tmp_path / "b.png")
    created = await veo.create(spec(model=STANDARD, reference=first, last_frame=last, seconds=4))
    assert (await until_done(veo, created.id)).status == "completed"


async def test_a_forgotten_result_is_polled_again_for_its_uri(sim: Proc, tmp_path: Path) -> None:
    async with _adapter(sim) as first:
        created = await first.create(spec(seconds=4))
        await until_done(first, created.id)
    async with _adapter(sim) as other:  # another replica: knows nothing of it
        info = await download(other, created.id, tmp_path / "v.mp4")
    assert (info["width"], info["height"]) == (1280, 720)


class _adapter:
    def __init__(self, sim: Proc, key: str = KEY) -> None:
        self.adapter = GeminiVeoUpstream(sim.url + "/v1beta", key)

    async def __aenter__(self) -> GeminiVeoUpstream:
        return self.adapter

    async def __aexit__(self, *exc: object) -> None:
        await self.adapter.close()


async def test_an_expired_video_is_content_expired(veo: GeminiVeoUpstream, sim: Proc) -> None:
    created = await veo.create(spec(seconds=4))
    done = await until_done(veo, created.id)
    file_id = done.content_ids["uri"].split("/files/")[1].split(":")[0]
    assert (await raw("POST", f"{sim.url}/_sim/expire/{file_id}")).status_code == 200
    with pytest.raises(UpstreamError) as err:
        await veo.open_content(created.id, "video")
    assert (err.value.status, err.value.code) == (404, "content_expired")


async def test_the_models_are_the_ones_taking_predict_long_running(veo: GeminiVeoUpstream) -> None:
    ids = {m["id"] for m in await veo.list_models()}
    assert FAST in ids and VEO2 in ids and not any(i.startswith("gemini") for i in ids)


# -- the simulator holds the dialect to the documented wire format --------------------------------------------------
@pytest.mark.parametrize(
    ("model", "change", "fragment"),
    [
        (FAST, {"parameters": {"durationSeconds": "8"}}, "The value type for durationSeconds needs to be a number."),
        (FAST, {"parameters": {"durationSeconds": 10}}, "between 4 and 8, inclusive"),
        (FAST, {"parameters": {"durationSeconds": 5}}, "between 4 and 8, inclusive"),  # as the live API says
        (VEO2, {"parameters": {"durationSeconds": 4}}, "between 5 and 8, inclusive"),
        (FAST, {"parameters": {"resolution": "1080p", "durationSeconds": 6}}, "Unsupported durationSeconds 6"),
        (FAST, {"parameters": {"aspectRatio": 1.77}}, "The value type for aspectRatio needs to be a string."),
        (FAST, {"parameters": {"aspectRatio": "1:1"}}, "Aspect ratio 1:1 is not supported"),
        (LITE, {"parameters": {"resolution": "4k", "durationSeconds": 8}}, "Resolution 4k is not supported"),
        (VEO2, {"parameters": {"resolution": "720p", "durationSeconds": 8}}, "`resolution` isn't supported"),
        (FAST, {"parameters": {"enhancePrompt": "yes"}}, "The value type for enhancePrompt needs to be a boolean."),
        (FAST, {"parameters": {"negativePrompt": ["x"]}}, "The value type for negativePrompt needs to be a string."),
        (FAST, {"parameters": {"seed": 7}}, "`seed` isn't supported by this model."),
        (FAST, {"parameters": {"generateAudio": True}}, "`generateAudio` isn't supported by this model."),
        (FAST, {"parameters": {"fps": 24}}, "`fps` isn't supported by this model."),
        (FAST, {"parameters": {"personGeneration": "allow_adult"}}, "allow_adult for personGeneration"),
        (FAST, {"parameters": {"sampleCount": 2}}, "sampleCount must be between 1 and 1"),
        (FAST, {"instances": [{"prompt": "x", "image": {"gcsUri": "gs://b/i.png"}}]}, "`gcsUri` isn't supported"),
        (FAST, {"instances": [{"prompt": "x", "image": {"inlineData": {}}}]}, "`inlineData` isn't supported"),
        (FAST, {"instances": [{"prompt": 5}]}, "The value type for prompt needs to be a string."),
        (FAST, {"instances": [{"prompt": "x", "video": {"uri": "u"}}]}, "`video` isn't supported"),
        (VEO3, {"instances": [{"prompt": "x", "referenceImages": []}]}, "`referenceImages` isn't supported"),
        (FAST, {"numberOfVideos": 1}, 'Unknown name "numberOfVideos"'),
    ],
)
def test_wrong_types_and_values_get_googles_400(sim: Proc, model: str, change: dict[str, Any], fragment: str) -> None:
    body: dict[str, Any] = {"instances": [{"prompt": "a lighthouse"}], **change}
    answer = httpx.post(create_url(sim, model), json=body, headers={"x-goog-api-key": KEY})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and fragment in error["message"]


def test_an_unknown_model_is_googles_404(sim: Proc) -> None:
    answer = httpx.post(create_url(sim, "veo-9-generate"), json={"instances": [{"prompt": "x"}]}, params={"key": KEY})
    assert answer.status_code == 404 and answer.json()["error"]["status"] == "NOT_FOUND"
    assert "models/veo-9-generate is not found for API version v1beta" in answer.json()["error"]["message"]


async def test_a_veo_400_is_invalid_value_naming_the_field(sim: Proc) -> None:
    body = {"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": "8"}}
    response = await raw("POST", create_url(sim), json=body, headers={"x-goog-api-key": KEY})
    error = error_from_response(response)
    assert (error.status, error.code, error.param) == (400, "invalid_value", "seconds")
    assert "durationSeconds needs to be a number" in error.message and error.client_fault


# -- auth ------------------------------------------------------------------------------------------------------------
def test_keys_are_refused_the_google_way(sim: Proc) -> None:
    body = {"instances": [{"prompt": "x"}]}
    wrong = httpx.post(create_url(sim), json=body, headers={"x-goog-api-key": "AIza-wrong"})
    assert wrong.status_code == 400
    error = wrong.json()["error"]
    assert (
        error["status"] == "INVALID_ARGUMENT" and error["message"] == "API key not valid. Please pass a valid API key."
    )
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    none = httpx.post(create_url(sim), json=body)
    assert none.status_code == 403 and none.json()["error"]["status"] == "PERMISSION_DENIED"
    assert "unregistered callers" in none.json()["error"]["message"]
    by_query = httpx.get(f"{sim.url}/v1beta/models", params={"key": KEY})
    assert by_query.status_code == 200 and by_query.json()["models"]


async def test_a_wrong_key_is_a_401(sim: Proc) -> None:
    async with _adapter(sim, "AIza-wrong") as wrong:
        with pytest.raises(UpstreamError) as err:
            await wrong.create(spec())
        assert (err.value.status, err.value.code) == (401, "invalid_api_key")
        with pytest.raises(UpstreamError) as err:
            await wrong.list_models()
        assert err.value.status == 401 and "AIza-wrong" not in err.value.message


# -- rate limits, safety, failures -----------------------------------------------------------------------------------
async def test_resource_exhausted_is_a_429_with_its_retry_delay() -> None:
    sim = start_simulator("--api-key", KEY, "--max-concurrent", "1", profile="gemini-veo", time_scale=10)
    try:
        async with _adapter(sim) as veo:
            await veo.create(spec())  # stays running (time scale 10)
            body = {"instances": [{"prompt": "x"}]}
            refused = await raw("POST", create_url(sim), json=body, headers={"x-goog-api-key": KEY})
            assert refused.status_code == 429 and "retry-after" not in refused.headers
            error = refused.json()["error"]
            assert error["status"] == "RESOURCE_EXHAUSTED" and "exceeded your current quota" in error["message"]
            delay = next(d["retryDelay"] for d in error["details"] if d["@type"].endswith("RetryInfo"))
            with pytest.raises(UpstreamError) as err:
                await veo.create(spec())
            assert (err.value.status, err.value.code) == (429, "rate_limited")
            assert err.value.retry_after == float(delay.rstrip("s")) and err.value.retryable
    finally:
        sim.stop()


async def test_the_429_fault_is_googles_429(veo: GeminiVeoUpstream, sim: Proc) -> None:
    faults(sim, "429=1")
    try:
        with pytest.raises(UpstreamError) as err:
            await veo.create(spec())
    finally:
        faults(sim, "")
    assert (err.value.status, err.value.code, err.value.retry_after) == (429, "rate_limited", 1.0)


async def test_the_safety_filter_is_moderation_blocked_with_its_reason(veo: GeminiVeoUpstream, sim: Proc) -> None:
    created = await veo.create(spec(prompt="a forbidden scene"))  # accepted: Veo filters while generating
    done = await until_done(veo, created.id)
    assert done.status == "failed" and done.error is not None
    assert done.error["code"] == "moderation_blocked" and "You will not be charged" in done.error["message"]
    operation = (await raw("GET", f"{sim.url}/v1beta/{created.id}", headers={"x-goog-api-key": KEY})).json()
    result = operation["response"]["generateVideoResponse"]
    assert operation["done"] is True and result["raiMediaFilteredCount"] == 1 and "generatedSamples" not in result


async def test_a_failed_operation_is_a_retryable_generation_failure(veo: GeminiVeoUpstream, sim: Proc) -> None:
    faults(sim, "fail=1")
    try:
        created = await veo.create(spec(seconds=4))
    finally:
        faults(sim, "")
    done = await until_done(veo, created.id)
    assert done.status == "failed" and done.error is not None
    assert done.error["code"] == "video_generation_failed" and "INTERNAL" in done.error["message"]


async def test_an_unknown_operation_is_a_404(veo: GeminiVeoUpstream) -> None:
    with pytest.raises(UpstreamError) as err:
        await veo.retrieve(f"models/{FAST}/operations/zzzzzzzzzzzz")
    assert err.value.status == 404


def test_the_signed_url_is_refused_a_key(sim: Proc) -> None:
    before = calls(sim)["veo_storage_key_sent"]
    leaked = httpx.get(f"{sim.url}/veo-storage/abc", params={"expires": "1", "signature": "x", "key": KEY})
    assert leaked.status_code == 400 and calls(sim)["veo_storage_key_sent"] == before + 1


def test_operation_errors_and_refusals_map_to_the_gateways_codes() -> None:
    assert operation_error({"code": 13, "message": "internal"})["code"] == "video_generation_failed"
    policy = operation_error(
        {"code": 3, "message": "The prompt couldn't be submitted or it might violate our policies"}
    )
    assert policy["code"] == "moderation_blocked"
    assert operation_error({"code": 3, "message": "bad aspect"})["code"] == "invalid_value"
    assert operation_error("a bare string")["code"] == "video_generation_failed"

    def answer(status: int, word: str, message: str) -> UpstreamError:
        body = {"error": {"code": status, "message": message, "status": word}}
        return error_from_response(httpx.Response(status, json=body))

    assert answer(400, "FAILED_PRECONDITION", "User location is not supported for the API use.").status == 403
    assert answer(403, "PERMISSION_DENIED", "Your API key was reported as leaked.").code == "invalid_api_key"
    assert answer(503, "UNAVAILABLE", "The model is overloaded.").retryable
    assert answer(400, "INVALID_ARGUMENT", "The prompt violates our usage policies.").code == "moderation_blocked"
    assert error_from_response(httpx.Response(502, text="<html>bad gateway</html>")).status == 502


def test_operation_forms() -> None:
    name = f"models/{FAST}/operations/321kvdcepmcg"
    running = parse_operation({"name": name})
    assert (running.status, running.model, running.progress) == ("in_progress", FAST, 0)
    assert parse_operation({"name": name, "done": False}).status == "in_progress"
    uri = "https://generativelanguage.googleapis.com/v1beta/files/qu4d28uipuqh:download?alt=media"
    response = {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}], "raiMediaFilteredCount": 0}}
    done = parse_operation({"name": name, "done": True, "response": response})
    assert done.status == "completed" and done.content_ids == {"uri": uri}
    inline = {
        "generateVideoResponse": {"generatedSamples": [{"video": {"encodedVideo": "AAAA", "encoding": "video/mp4"}}]}
    }
    data = {"name": name, "done": True, "response": inline}
    assert parse_operation(data).status == "completed" and inline_video(data) == b"\x00\x00\x00"
    empty = parse_operation({"name": name, "done": True, "response": {"generateVideoResponse": {}}})
    assert empty.status == "failed" and empty.error is not None and empty.error["code"] == "video_generation_failed"
    with pytest.raises(UpstreamError):
        parse_operation({"done": True})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(OPERATION_KEYS), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from(OPERATION_KEYS), JSON, max_size=5))
def test_any_operation_reads_as_a_video_or_an_upstream_error(data: dict[str, Any]) -> None:
    try:
        video = parse_operation(data)
    except UpstreamError as exc:
        assert exc.status == 502
        return
    assert video.status in ("in_progress", "completed", "failed")
    assert video.status != "failed" or (video.error is not None and video.error["code"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(min_value=400, max_value=599), JSON)
def test_any_refusal_reads_as_an_upstream_error(status: int, body: Any) -> None:
    error = error_from_response(httpx.Response(status, json={"error": body}))
    assert 400 <= error.status < 600 and error.message
