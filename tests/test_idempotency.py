"""Client idempotency (``Idempotency-Key``): the pipeline piece on every store, and end to end.

Same key + same body -> the same video and one upstream generation; another body -> 409
``idempotency_key_reused``; a refused create frees the key; the record survives a restart (SQLite)
and is shared by two gateways on one Redis.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from gateway.errors import ApiError
from gateway.pipeline.idempotency import LEASE_PREFIX, Answer, IdempotencyKeys, note_stored
from gateway.store.base import JobStore
from tests.conftest import FAST_CONFIG, Gateway, calls, start_gateway, store_url, write_tenants
from tests.procs import Proc, start_simulator, wait_for

TENANTS = {"idem": "cache: {scope: off}\n", "other": "cache: {scope: off}\n"}  # no cache: only the key dedupes


def key_of(tenant: str) -> str:
    return f"sk-idem-{tenant}-0123456789"


# -- the pipeline piece, on every store ------------------------------------------------------
async def test_one_answer_per_key_and_body(store: JobStore) -> None:
    keys = IdempotencyKeys(store, ttl_s=60, wait_s=30)
    made: list[int] = []

    async def produce() -> Answer:
        made.append(1)
        await asyncio.sleep(0.2)  # the duplicates arrive while the first is still running
        return Answer(200, '{"id": "video_1"}', {"content-type": "application/json"})

    results = await asyncio.gather(*(keys.run("acme", "k1", "fp-a", produce) for _ in range(5)))
    assert len(made) == 1
    assert [r[0].body for r in results] == ['{"id": "video_1"}'] * 5
    assert sorted(r[1] for r in results) == [False, True, True, True, True]
    with pytest.raises(ApiError) as reused:
        await keys.run("acme", "k1", "fp-b", produce)
    assert reused.value.status == 409 and reused.value.code == "idempotency_key_reused"
    _, replayed = await keys.run("globex", "k1", "fp-b", produce)  # keys are per team
    assert not replayed and len(made) == 2
    # a fresh IdempotencyKeys over the same store (another replica, or after a restart) replays too
    again, replayed = await IdempotencyKeys(store).run("acme", "k1", "fp-a", produce)
    assert replayed and again.body == '{"id": "video_1"}' and len(made) == 2


async def test_a_refusal_or_failure_frees_the_key(store: JobStore) -> None:
    keys = IdempotencyKeys(store, ttl_s=60)

    async def refused() -> Answer:
        raise ApiError(429, "slow down", code="rate_limit_exceeded")

    async def answered_400() -> Answer:
        return Answer(400, '{"error": {}}')

    async def ok() -> Answer:
        return Answer(200, '{"id": "video_2"}')

    with pytest.raises(ApiError):
        await keys.run("acme", "k2", "fp", refused)
    assert (await keys.run("acme", "k2", "fp", answered_400))[0].status == 400
    answer, replayed = await keys.run("acme", "k2", "fp", ok)
    assert answer.status == 200 and not replayed
    assert (await keys.run("acme", "k2", "fp", refused))[1]  # answered: replayed, refused() never runs


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(ApiError) as bad:
        IdempotencyKeys.check_key(key)
    assert bad.value.status == 400 and bad.value.param == "Idempotency-Key"


# -- end to end ----------------------------------------------------------------------------------
def start(sim: Proc, tmp: Path, store: str, port: int | None = None) -> Gateway:
    policies = write_tenants(tmp / "policies", TENANTS, key_of)
    return start_gateway(sim, tmp, store, policies=policies, config=FAST_CONFIG, port=port)


def http(gw: Gateway, tenant: str = "idem") -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key_of(tenant)}"}, timeout=60)


def sdk(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key_of("idem"), max_retries=0)


@pytest.fixture(scope="module")
def sim26() -> Iterator[Proc]:
    sim = start_simulator(profile="openai-2026-03")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def gw(sim26: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("idem")
    gateway = start(sim26, tmp, f"sqlite:///{tmp / 'gw.db'}")
    yield gateway
    gateway.proc.stop()


def wait_completed(client: httpx.Client, video_id: str) -> None:
    wait_for(lambda: client.get(f"/v1/videos/{video_id}").json()["status"] == "completed", video_id, timeout=120)


def test_sdk_create_with_the_same_key_is_one_video(gw: Gateway, sim26: Proc) -> None:
    client, key = sdk(gw), f"create-{uuid.uuid4()}"
    before = calls(sim26, "create")
    first = client.videos.create(prompt="an idempotent lighthouse", seconds="4", extra_headers={"Idempotency-Key": key})
    again = client.videos.create(prompt="an idempotent lighthouse", seconds="4", extra_headers={"Idempotency-Key": key})
    assert again.id == first.id
    assert calls(sim26, "create") == before + 1
    with pytest.raises(openai.ConflictError) as reused:
        client.videos.create(prompt="another prompt", seconds="4", extra_headers={"Idempotency-Key": key})
    assert reused.value.status_code == 409 and reused.value.code == "idempotency_key_reused"
    other = sdk(gw).videos.create(prompt="an idempotent lighthouse", seconds="4")  # no key: a new video
    assert other.id != first.id and calls(sim26, "create") == before + 2


def test_multipart_with_a_file_and_concurrent_duplicates(gw: Gateway, sim26: Proc) -> None:
    key, image = f"multi-{uuid.uuid4()}", b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes
    before = calls(sim26, "create")
    uploads = gw.data_dir / "uploads"
    kept_before = set(uploads.iterdir()) if uploads.is_dir() else set()

    def send(_: int) -> httpx.Response:
        with http(gw) as client:
            return client.post(
                "/v1/videos",
                data={"prompt": "a cat with a reference", "seconds": "4"},
                files={"input_reference": ("ref.png", image, "image/png")},
                headers={"Idempotency-Key": key},
            )

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(send, range(6)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.headers["idempotent-replayed"] for r in responses) == ["false"] + ["true"] * 5
    assert calls(sim26, "create") == before + 1
    assert len(set(uploads.iterdir()) - kept_before) == 1  # the replays' copies were not kept


def test_every_create_like_route_honours_the_key(gw: Gateway, sim26: Proc) -> None:
    with http(gw) as client:
        source = client.post("/v1/videos", json={"prompt": "a source video", "seconds": "4"}).json()["id"]
        wait_completed(client, source)
        routes: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
            (f"/v1/videos/{source}/remix", {"prompt": "remixed"}, {"prompt": "remixed otherwise"}),
            ("/v1/videos/extensions", {"video": {"id": source}, "prompt": "more", "seconds": "4"}, {"prompt": "x"}),
            ("/v1/videos/edits", {"video": {"id": source}, "prompt": "edited"}, {"prompt": "edited otherwise"}),
            ("/v1/video/generations", {"prompt": "seed", "duration_seconds": 4}, {"prompt": "seed 2"}),
        ]
        for path, body, other in routes:
            key = f"route-{uuid.uuid4()}"
            before = calls(sim26, "create") + calls(sim26, "remix") + calls(sim26, "extend") + calls(sim26, "edit")
            first = client.post(path, json=body, headers={"Idempotency-Key": key})
            second = client.post(path, json=body, headers={"Idempotency-Key": key})
            assert first.status_code == second.status_code == 200, (path, first.text, second.text)
            assert first.json()["id"] == second.json()["id"], path
            assert second.headers["idempotent-replayed"] == "true"
            after = calls(sim26, "create") + calls(sim26, "remix") + calls(sim26, "extend") + calls(sim26, "edit")
            assert after == before + 1, (path, sim_calls(sim26))
            conflict = client.post(path, json={**body, **other}, headers={"Idempotency-Key": key})
            assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_key_reused"
            elsewhere = client.post("/v1/videos", json={"prompt": "seed"}, headers={"Idempotency-Key": key})
            assert elsewhere.status_code == 409  # the same key on another route is another request


def sim_calls(sim: Proc) -> dict[str, Any]:
    return dict(httpx.get(sim.url + "/_sim/stats").json()["calls"])


def test_a_refused_create_does_not_burn_the_key(gw: Gateway) -> None:
    key = f"refused-{uuid.uuid4()}"
    with http(gw) as client:
        bad = client.post("/v1/videos", json={"prompt": "a cat", "seconds": "999"}, headers={"Idempotency-Key": key})
        assert bad.status_code == 400
        good = client.post("/v1/videos", json={"prompt": "a cat", "seconds": "999"}, headers={"Idempotency-Key": key})
        assert good.status_code == 400  # still refused, not replayed as something else
        fixed = client.post("/v1/videos", json={"prompt": "a cat", "seconds": "4"}, headers={"Idempotency-Key": key})
        assert fixed.status_code == 200 and fixed.headers["idempotent-replayed"] == "false"
        bad_key = client.post("/v1/videos", json={"prompt": "a cat"}, headers={"Idempotency-Key": "x" * 300})
        assert bad_key.status_code == 400 and bad_key.json()["error"]["param"] == "Idempotency-Key"


def test_keys_survive_a_restart_on_sqlite(sim26: Proc, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'gw.db'}"
    gw = start(sim26, tmp_path, store)
    key = f"restart-{uuid.uuid4()}"
    try:
        with http(gw) as client:
            first = client.post(
                "/v1/videos", json={"prompt": "durable", "seconds": "4"}, headers={"Idempotency-Key": key}
            )
            assert first.status_code == 200
    finally:
        gw.proc.stop()
    gw = start(sim26, tmp_path, store, port=gw.proc.port)
    try:
        with http(gw) as client:
            again = client.post(
                "/v1/videos", json={"prompt": "durable", "seconds": "4"}, headers={"Idempotency-Key": key}
            )
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    finally:
        gw.proc.stop()


def test_two_gateways_on_one_redis_make_one_video(sim26: Proc, tmp_path: Path) -> None:
    store = store_url("redis", tmp_path)
    one, two = start(sim26, tmp_path / "a", store), start(sim26, tmp_path / "b", store)
    try:
        key, before = f"redis-{uuid.uuid4()}", calls(sim26, "create")

        def send(i: int) -> httpx.Response:
            with http(one if i % 2 else two) as client:
                body = {"prompt": "a shared lighthouse", "seconds": "4"}
                return client.post("/v1/videos", json=body, headers={"Idempotency-Key": key})

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(send, range(8)))
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert calls(sim26, "create") == before + 1
    finally:
        one.proc.stop()
        two.proc.stop()


async def test_a_stored_job_is_named_to_a_retry_while_the_first_never_answers(store: JobStore) -> None:
    """The first request stored its job, then hangs (or its replica died): a retry is never run again."""
    stored = asyncio.Event()

    async def hangs() -> Answer:
        await note_stored("video_abc")
        stored.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError

    first = asyncio.create_task(IdempotencyKeys(store, pending_s=0.5).run("acme", "k3", "fp", hangs))
    await stored.wait()
    await asyncio.sleep(1.0)  # longer than the bare claim would have lived: the stored job keeps it

    async def must_not_run() -> Answer:
        raise AssertionError("a second create for the same key")

    with pytest.raises(ApiError) as busy:
        await IdempotencyKeys(store, wait_s=0.3).run("acme", "k3", "fp", must_not_run)
    assert busy.value.status == 409 and busy.value.code == "idempotency_key_in_progress"
    assert "video_abc" in busy.value.message
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_dead_holders_claim_is_taken_over_and_answered_with_its_work(store: JobStore) -> None:
    """The first request stored its job and died (its lease is gone): the retry answers with that job."""
    keys = IdempotencyKeys(store, lease_ttl_s=30, wait_s=0.3)
    for key, token in (("dead", "t-dead"), ("alive", "t-alive")):
        record = {"state": "pending", "fp": "fp", "token": token, "jobs": [f"video_{key}"]}
        await store.kv_set(keys._kv_key("acme", key), json.dumps(record))
    assert await store.acquire_lease(LEASE_PREFIX + "t-alive", "the-first-holder", 30)

    async def must_not_run() -> Answer:
        raise AssertionError("a second create for the same key")

    async def resume(made: dict[str, Any]) -> Answer:
        return Answer(200, json.dumps({"id": made["jobs"][0]}))

    answer, replayed = await keys.run("acme", "dead", "fp", must_not_run, resume)
    assert replayed and json.loads(answer.body) == {"id": "video_dead"}
    assert await keys.run("acme", "dead", "fp", must_not_run) == (answer, True)  # kept as the key's answer
    with pytest.raises(ApiError) as busy:  # a live holder keeps its claim: the retry waits, then a 409
        await keys.run("acme", "alive", "fp", must_not_run, resume)
    assert busy.value.code == "idempotency_key_in_progress"


async def test_a_dead_holders_claim_that_stored_nothing_is_run_by_the_retry(store: JobStore) -> None:
    keys = IdempotencyKeys(store, lease_ttl_s=30)
    await store.kv_set(keys._kv_key("acme", "k"), json.dumps({"state": "pending", "fp": "fp", "token": "t"}))

    async def produce() -> Answer:
        return Answer(200, "made")

    assert await keys.run("acme", "k", "fp", produce) == (Answer(200, "made"), False)
    assert await keys.run("acme", "k", "fp", produce) == (Answer(200, "made"), True)
