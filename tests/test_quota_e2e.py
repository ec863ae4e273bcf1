"""Per-team quotas end to end on one gateway (in-process counters): real simulator, official SDK.

Every quota kind is exercised: requests per minute (429 + Retry-After + x-ratelimit-*), concurrent
jobs (freed on completion and on delete), video seconds per day, budget per month (refunded when
the upstream fails the job, not charged for a cache hit), allowed models and seconds per request;
and the usage endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import FAST_CONFIG, Gateway, start_gateway, write_tenants
from tests.procs import Proc, start_simulator, wait_for

ADMIN_KEY = "sk-admin-quota-test-0000"
TENANTS = {
    # name: (quotas and extras as YAML)
    "rpm": "quotas: {requests_per_minute: 3}\ncache: {scope: off}\n",
    "daily": "quotas: {video_seconds_per_day: 12}\ncache: {scope: off}\n",
    "budget": "quotas: {budget_usd_per_month: 1.2}\ncache: {scope: off}\n",
    "shape": "models: [sora-2]\nquotas: {max_seconds_per_request: 8}\n",
    "cached": "quotas: {budget_usd_per_month: 0.8, video_seconds_per_day: 8, concurrent_jobs: 1}\n",
    "finish": "quotas: {concurrent_jobs: 1}\ncache: {scope: off}\n",
}


def key_of(tenant: str) -> str:
    return f"sk-quota-{tenant}-0123456789"


def sdk(gw: Gateway, tenant: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key_of(tenant), max_retries=0)


def http(gw: Gateway, tenant: str) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key_of(tenant)}"}, timeout=30)


def usage(gw: Gateway, tenant: str) -> dict[str, Any]:
    with http(gw, tenant) as client:
        response = client.get("/v1/gateway/usage")
    assert response.status_code == 200, response.text
    return dict(response.json())


def start(sim: Proc, tmp: Path, tenants: dict[str, str], config: str = FAST_CONFIG, port: int | None = None) -> Gateway:
    policies = write_tenants(tmp / "policies", tenants, key_of)
    return start_gateway(
        sim,
        tmp,
        f"sqlite:///{tmp / 'gw.db'}",
        policies=policies,
        config=config,
        port=port,
        env={"SORA_GATEWAY_ADMIN_KEY": ADMIN_KEY},
    )


@pytest.fixture(scope="module")
def gw(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start(simulator, tmp_path_factory.mktemp("quota"), TENANTS)
    yield gateway
    gateway.proc.stop()


def test_requests_per_minute_is_a_429_with_retry_after_and_openai_headers(gw: Gateway) -> None:
    client = sdk(gw, "rpm")
    remaining = []
    for i in range(3):
        raw = client.videos.with_raw_response.create(prompt=f"rate limited clip {i}", seconds="4")
        assert raw.http_response.status_code == 200
        assert raw.headers["x-ratelimit-limit-requests"] == "3"
        remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
    assert remaining == [2, 1, 0]
    with pytest.raises(openai.RateLimitError) as err:
        client.videos.create(prompt="one too many", seconds="4")
    response = err.value.response
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"].endswith("s")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "rate_limit_exceeded" and "requests_per_minute" in error["message"]
    # reads are not counted, but carry the headers too (every response)
    for path in ("/v1/videos", "/v1/gateway/usage", "/v1/videos/video_unknown", "/v1/models"):
        with http(gw, "rpm") as c:
            r = c.get(path)
        assert r.headers.get("x-ratelimit-limit-requests") == "3", (path, dict(r.headers))
        assert r.headers["x-ratelimit-remaining-requests"] == "0", path
    assert usage(gw, "rpm")["usage"]["requests_last_minute"] == 3
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'sora_gateway_quota_refusals_total{limit="requests_per_minute",tenant="rpm"} 1.0' in metrics


def test_video_seconds_per_day(gw: Gateway) -> None:
    client = sdk(gw, "daily")
    client.videos.create(prompt="daily one", seconds="8")
    with pytest.raises(openai.RateLimitError) as err:
        client.videos.create(prompt="daily two", seconds="8")
    assert err.value.body["code"] == "video_seconds_per_day_exceeded"  # type: ignore[index]
    assert "video_seconds_per_day" in err.value.message
    assert int(err.value.response.headers["retry-after"]) >= 1
    client.videos.create(prompt="daily three", seconds="4")  # 8 + 4 = 12 still fits
    assert usage(gw, "daily")["usage"]["video_seconds_today"] == 12


def test_budget_per_month_priced_from_the_capability_table(gw: Gateway) -> None:
    client = sdk(gw, "budget")  # budget $1.20
    client.videos.create(prompt="budget one", seconds="8", model="sora-2")  # 8 s x $0.10 = $0.80
    with pytest.raises(openai.RateLimitError) as err:
        client.videos.create(prompt="budget pro", seconds="4", model="sora-2-pro")  # 4 s x $0.30: $2.00 in all
    assert err.value.body["code"] == "budget_usd_per_month_exceeded"  # type: ignore[index]
    assert "budget_usd_per_month" in err.value.message and int(err.value.response.headers["retry-after"]) >= 1
    client.videos.create(prompt="budget two", seconds="4", model="sora-2")  # $0.40: exactly $1.20
    with pytest.raises(openai.RateLimitError):
        client.videos.create(prompt="budget three", seconds="4", model="sora-2")
    assert usage(gw, "budget")["usage"]["spend_usd_this_month"] == pytest.approx(1.2)


def test_request_shape_limits_are_400s(gw: Gateway) -> None:
    client = sdk(gw, "shape")
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="too long for this team", seconds="12")
    assert err.value.body["code"] == "max_seconds_per_request_exceeded"  # type: ignore[index]
    assert err.value.body["param"] == "seconds"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as err:  # 10 s asked is a 12 s clip upstream: the message names both
        client.videos.create(prompt="ten seconds", seconds="10")  # type: ignore[arg-type]
    assert "'seconds': 10 (generated upstream: 12) exceeds" in err.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="pro is not ours", model="sora-2-pro")
    assert err.value.body["code"] == "model_not_allowed" and err.value.body["param"] == "model"  # type: ignore[index]
    assert client.videos.create(prompt="fits", seconds="8").status in ("queued", "in_progress")


def test_concurrency_is_released_when_a_job_completes(gw: Gateway) -> None:
    client = sdk(gw, "finish")
    first = client.videos.create(prompt="finish first", seconds="4")
    assert usage(gw, "finish")["usage"]["concurrent_jobs"] == 1
    done = client.videos.poll(first.id, poll_interval_ms=50)
    assert done.status == "completed"
    wait_for(lambda: usage(gw, "finish")["usage"]["concurrent_jobs"] == 0, "the slot to be released")
    second = client.videos.create(prompt="finish second", seconds="4")
    assert second.status in ("queued", "in_progress")


def test_cache_hit_costs_nothing(gw: Gateway) -> None:
    client = sdk(gw, "cached")
    first = client.videos.create_and_poll(prompt="a cached lighthouse", seconds="8", poll_interval_ms=50)
    assert first.status == "completed"
    wait_for(lambda: usage(gw, "cached")["usage"]["concurrent_jobs"] == 0, "the slot to be released")
    before = usage(gw, "cached")["usage"]
    assert before["spend_usd_this_month"] == pytest.approx(0.8) and before["video_seconds_today"] == 8
    # the budget (0.8) and the seconds (8) are used up, yet an identical create is answered from the cache
    raw = client.videos.with_raw_response.create(prompt="a cached lighthouse", seconds="8")
    assert raw.headers["x-sora-gateway-cache"] == "hit"
    assert raw.parse().status == "completed"
    after = usage(gw, "cached")["usage"]
    assert after["spend_usd_this_month"] == before["spend_usd_this_month"]
    assert after["video_seconds_today"] == before["video_seconds_today"]
    with pytest.raises(openai.RateLimitError):  # a different prompt is not free
        client.videos.create(prompt="an uncached lighthouse", seconds="4")


def test_usage_endpoint_and_admin_view(gw: Gateway) -> None:
    body = usage(gw, "budget")
    assert body["tenant"] == "budget" and body["limits"]["budget_usd_per_month"] == 1.2
    assert set(body["usage"]) == {
        "requests_last_minute",
        "concurrent_jobs",
        "video_seconds_today",
        "spend_usd_this_month",
    }
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        everyone = c.get("/v1/gateway/admin/usage", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        as_tenant = c.get("/v1/gateway/admin/usage", headers={"Authorization": f"Bearer {key_of('budget')}"})
        one = c.get(
            "/v1/gateway/admin/usage", params={"tenant": "daily"}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
    assert everyone.status_code == 200
    names = {u["tenant"] for u in everyone.json()["data"]}
    assert set(TENANTS) | {"acme", "globex"} <= names
    assert as_tenant.status_code == 401 and as_tenant.json()["error"]["code"] == "invalid_admin_key"
    assert [u["tenant"] for u in one.json()["data"]] == ["daily"]


def test_failed_job_refunds_budget_and_seconds(tmp_path: Path) -> None:
    sim = start_simulator("--faults", "fail=1.0")
    gateway = start(
        sim,
        tmp_path,
        {"refund": "quotas: {budget_usd_per_month: 1.0, video_seconds_per_day: 8, concurrent_jobs: 1}\n"},
        config=FAST_CONFIG + "max_segment_attempts: 1\n",
    )
    try:
        client = sdk(gateway, "refund")
        video = client.videos.create(prompt="doomed clip", seconds="8")  # $0.80 and 8 s charged
        assert usage(gateway, "refund")["usage"]["spend_usd_this_month"] == pytest.approx(0.8)
        assert client.videos.poll(video.id, poll_interval_ms=50).status == "failed"
        wait_for(lambda: usage(gateway, "refund")["usage"]["spend_usd_this_month"] == 0, "the refund")
        now = usage(gateway, "refund")["usage"]
        assert now["video_seconds_today"] == 0 and now["concurrent_jobs"] == 0
        again = client.videos.create(prompt="doomed clip again", seconds="8")  # fits only after the refund
        assert again.status in ("queued", "in_progress")
    finally:
        gateway.proc.stop()
        sim.stop()


def test_concurrency_is_released_when_a_job_is_deleted_and_counters_survive_a_restart(tmp_path: Path) -> None:
    slow = start_simulator(time_scale=1.0)  # generations take real minutes: the jobs stay in progress
    tenants = {"conc": "quotas: {concurrent_jobs: 2, budget_usd_per_month: 1.2}\ncache: {scope: off}\n"}
    gateway = start(slow, tmp_path, tenants)
    try:
        client = sdk(gateway, "conc")
        running = [client.videos.create(prompt=f"slow clip {i}", seconds="4") for i in range(2)]  # $0.80
        with pytest.raises(openai.RateLimitError) as err:
            client.videos.create(prompt="slow clip 3", seconds="4")
        assert err.value.body["code"] == "concurrent_jobs_exceeded"  # type: ignore[index]
        assert "concurrent_jobs" in err.value.message and int(err.value.response.headers["retry-after"]) >= 1

        gateway.proc.stop()  # in-process counters: the spend and the busy slots outlive a restart
        gateway = start(slow, tmp_path, tenants, port=gateway.proc.port)
        client = sdk(gateway, "conc")
        after = usage(gateway, "conc")["usage"]
        assert after["concurrent_jobs"] == 2 and after["spend_usd_this_month"] == pytest.approx(0.8)
        with pytest.raises(openai.RateLimitError):
            client.videos.create(prompt="slow clip 3", seconds="4")

        client.videos.delete(running[0].id)
        assert usage(gateway, "conc")["usage"]["concurrent_jobs"] == 1
        client.videos.create(prompt="slow clip 4", seconds="4")  # $1.20: the whole budget
        with pytest.raises(openai.RateLimitError):
            client.videos.create(prompt="slow clip 5", seconds="4")
        client.videos.delete(running[1].id)
        with pytest.raises(openai.RateLimitError) as err:  # a slot is free, the money is not
            client.videos.create(prompt="slow clip 6", seconds="4")
        assert err.value.body["code"] == "budget_usd_per_month_exceeded"  # type: ignore[index]
    finally:
        gateway.proc.stop()
        slow.stop()
