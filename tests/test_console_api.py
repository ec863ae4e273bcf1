"""The console's JSON API on a real gateway (simulator, official SDK): usage over time, jobs, one job, providers.

The console reads these and nothing else: no ``/metrics`` (the nginx of ``deploy/`` hides it), so what a
test asks here is what the console shows behind that proxy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import KEYS, Gateway, start_gateway, write_policies
from tests.procs import start_simulator

ADMIN_KEY = "sk-admin-console-api-0123456789"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sim = start_simulator(time_scale=0.02)
    tmp = tmp_path_factory.mktemp("console-api")
    policies = write_policies(
        tmp / "policies",
        {"acme": "quotas: {budget_usd_per_month: 25}\n", "globex": "quotas: {budget_usd_per_month: 0.5}\n"},
    )
    gw = start_gateway(sim, tmp, "memory://", policies=policies, env={"SORA_GATEWAY_ADMIN_KEY": ADMIN_KEY})
    yield gw
    gw.proc.stop()
    sim.stop()


def admin(gw: Gateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)


def wait_for(read: object, ok: object, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        body = read()  # type: ignore[operator]
        if ok(body):  # type: ignore[operator]
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_usage_jobs_and_providers_from_the_gateways_own_api(gw: Gateway) -> None:
    acme, globex = gw.client("acme"), gw.client("globex")
    made = acme.videos.create_and_poll(prompt="a lighthouse at dawn", seconds="4", poll_interval_ms=50)
    acme.videos.create_and_poll(prompt="a red fox in snow", seconds="8", poll_interval_ms=50)
    hit = acme.videos.create(prompt="a lighthouse at dawn", seconds="4")  # a cache hit: $0.40 saved
    assert made.status == "completed" and hit.status == "completed"
    globex.videos.create_and_poll(prompt="a globex harbour", seconds="4", poll_interval_ms=50)
    with pytest.raises(openai.RateLimitError):  # $0.40 spent of $0.50: the next $0.40 is refused
        globex.videos.create(prompt="another globex harbour", seconds="4")

    team = gw.http("acme")
    usage = wait_for(
        lambda: team.get("/v1/gateway/console/usage", params={"range": "hour"}).json(),
        lambda b: b["totals"]["spend_usd"] >= 1.2,
    )
    t = usage["totals"]
    assert (t["requests"], t["cache_hits"], t["saved_usd"], t["video_seconds"]) == (3, 1, 0.4, 12)
    assert t["spend_usd"] == 1.2 and usage["budget"] == {"usd_per_month": 25.0, "spent_usd_this_month": 1.2}
    assert len(usage["buckets"]) == 60 and usage["step_s"] == 60 and usage["scope"] == "acme"
    assert usage["providers"] == {} and set(usage["teams"]) == {"acme"}  # a team sees only itself

    with admin(gw) as a:
        whole = wait_for(
            lambda: a.get("/v1/gateway/console/usage", params={"range": "day"}).json(),
            lambda b: b["totals"]["spend_usd"] >= 1.6,
        )
        assert whole["scope"] == "gateway" and whole["totals"]["refused"] == 1
        assert whole["refusals"] == {"budget_usd_per_month_exceeded": 1}
        assert whole["budget"] == {"usd_per_month": 25.5, "spent_usd_this_month": 1.6}  # every team's
        assert sum(p["spend_usd"] for p in whole["providers"].values()) == 1.6
        month = a.get("/v1/gateway/console/usage", params={"range": "30d", "tenant": "globex"}).json()
        assert month["budget"] == {"usd_per_month": 0.5, "spent_usd_this_month": 0.4}
        assert month["totals"]["spend_usd"] == 0.4 and len(month["buckets"]) == 30

        listed = a.get("/v1/gateway/console/jobs", params={"limit": 100}).json()
        assert {v["tenant"] for v in listed["data"]} == {"acme", "globex"} and listed["next_cursor"] is None
        fox = a.get("/v1/gateway/console/jobs", params={"q": "RED FOX"}).json()["data"]
        assert [v["prompt"] for v in fox] == ["a red fox in snow"]
        assert fox[0]["content_base"] == "/v1/gateway/admin/videos/" + fox[0]["id"]
        only = a.get("/v1/gateway/console/jobs", params={"tenant": "globex"}).json()["data"]
        assert [v["tenant"] for v in only] == ["globex"]
        profile = listed["data"][0]["provider"]
        assert len(a.get("/v1/gateway/console/jobs", params={"provider": profile}).json()["data"]) == 4
        assert a.get("/v1/gateway/console/jobs", params={"provider": "nobody"}).json()["data"] == []
        future = a.get("/v1/gateway/console/jobs", params={"since": int(time.time()) + 3600}).json()
        assert future == {"object": "list", "data": [], "next_cursor": None, "scanned": 1}
        paged = a.get("/v1/gateway/console/jobs", params={"limit": 2}).json()
        rest = a.get("/v1/gateway/console/jobs", params={"limit": 100, "cursor": paged["next_cursor"]}).json()
        assert len(paged["data"]) == 2 and len(rest["data"]) == 2
        assert {v["id"] for v in paged["data"]}.isdisjoint(v["id"] for v in rest["data"])

        assert a.get("/v1/gateway/console/whoami").json() == {
            "object": "gateway.console_identity",
            "role": "admin",
            "tenant": None,
        }
        tiles = a.get("/v1/gateway/console/providers").json()["data"]
        assert tiles and tiles[0]["profile"] == profile and tiles[0]["level"] == "ok"
        assert tiles[0]["spend_usd_today"] == 1.6 and tiles[0]["calls"] > 0 and tiles[0]["error_rate"] == 0
        assert a.get("/v1/gateway/console/usage", params={"range": "week"}).status_code == 400
        assert a.get("/v1/gateway/console/jobs", params={"status": "done"}).json()["error"]["param"] == "status"

    mine = team.get("/v1/gateway/console/jobs").json()["data"]
    assert {v["tenant"] for v in mine} == {"acme"} and len(mine) == 3
    assert team.get("/v1/gateway/console/jobs", params={"status": "failed"}).json()["data"] == []
    assert team.get("/v1/gateway/console/providers").status_code == 401  # admin only
    assert team.get("/v1/gateway/console/whoami").json()["role"] == "team"

    detail = team.get(f"/v1/gateway/console/jobs/{made.id}").json()
    assert detail["id"] == made.id and detail["segments"][0]["provider"] == profile
    assert detail["segments"][0]["status"] == "completed" and detail["content_base"] == f"/v1/videos/{made.id}"
    assert f"/v1/videos/{made.id}/content" in detail["fetch"]["curl"] and KEYS["acme"] not in detail["fetch"]["curl"]
    assert detail["feedback"] == [] and detail["webhook_deliveries"] == []
    rated = team.post(f"/v1/videos/{made.id}/feedback", json={"rating": 4})
    assert rated.status_code == 200, rated.text
    assert team.get(f"/v1/gateway/console/jobs/{made.id}").json()["feedback"][0]["rating"] == 4
    other = gw.http("globex").get(f"/v1/gateway/console/jobs/{made.id}")
    assert other.status_code == 404  # another team's video does not exist for globex


def test_a_batch_and_a_story_shown_as_what_they_are(gw: Gateway) -> None:
    team = gw.http("acme")
    batch = team.post("/v1/gateway/batches", json={"prompt": "a paper kite", "n": 2, "seconds": "4"})
    assert batch.status_code == 200, batch.text
    first, second = (v["id"] for v in batch.json()["videos"])
    scenes = [{"prompt": "a lantern glows in a tent", "seconds": 4}, {"prompt": "the tent opens at dawn", "seconds": 4}]
    story = team.post("/v1/gateway/stories", json={"scenes": scenes})
    assert story.status_code == 200, story.text
    story_id = story.json()["id"]
    done = {"completed", "failed"}
    page = wait_for(
        lambda: team.get(f"/v1/gateway/console/jobs/{first}").json(),
        lambda b: {v["status"] for v in b["batch"]["variations"]} <= done,
    )
    assert page["batch"]["id"] == batch.json()["id"]
    assert [v["id"] for v in page["batch"]["variations"]] == [first, second]
    assert team.post(f"/v1/videos/{second}/feedback", json={"rating": 2}).status_code == 200
    assert team.post(f"/v1/videos/{second}/feedback", json={"rating": 5}).status_code == 200
    compared = team.get(f"/v1/gateway/console/jobs/{first}").json()["batch"]["variations"]
    assert [(v["rating_mean"], v["ratings"]) for v in compared] == [(None, 0), (3.5, 2)]

    film = wait_for(lambda: team.get(f"/v1/gateway/console/jobs/{story_id}").json(), lambda b: b["status"] in done)
    assert film["status"] == "completed" and [s["scene"] for s in film["story"]["scenes"]] == [1, 2]
    assert [s["prompt"] for s in film["story"]["scenes"]] == [s["prompt"] for s in scenes]
    scene = team.get(f"/v1/gateway/console/jobs/{film['story']['scenes'][0]['id']}").json()
    assert scene["story_id"] == story_id  # a scene points back at the film


def test_no_key_no_console_api(gw: Gateway, tmp_path: Path) -> None:
    for path in ("/v1/gateway/console/usage", "/v1/gateway/console/jobs", "/v1/gateway/console/providers"):
        answer = httpx.get(gw.url + path)
        assert answer.status_code == 401 and "error" in answer.json()
