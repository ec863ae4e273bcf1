"""Two different providers in order of preference, the first turning every create away with a 429.

The first upstream is a simulated Runway whose every call answers 429 (its daily limit); the second a simulated
Kling. A Sora client's create must complete on Kling without waiting in Runway's queue: the 429 saturates Runway
(no new jobs until its Retry-After), the job — surely never made upstream — is planned again for Kling (its clip
lengths, sizes, model map and price) and sent there while the client waits, so the very answer to the create
already names Kling. The next create goes straight to Kling. Nothing is paid twice: Runway was asked once and
made nothing, Kling made each video once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.media.probe import probe_duration, probe_video
from gateway.upstreams.breaker import SATURATED_S, Breaker
from tests.conftest import FAST_CONFIG, Gateway, start_gateway
from tests.procs import Proc, start_simulator

RUNWAY_KEY = "key_" + "ab" * 64
KLING_KEY = "ak-failover-0001:sk-failover-SECRET-0123456789"

Stack = tuple[Proc, Proc, Gateway]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    runway = start_simulator("--api-key", RUNWAY_KEY, "--faults", "429=1.0", profile="runway", time_scale=0.004)
    kling = start_simulator("--api-key", KLING_KEY, profile="kling", time_scale=0.004)
    config = (
        FAST_CONFIG
        + "upstreams:\n"
        + f"  - {{url: {runway.url}, api_key_env: RUNWAY_FAILOVER_KEY, profile: runway}}\n"
        + f"  - {{url: {kling.url}, api_key_env: KLING_FAILOVER_KEY, profile: kling}}\n"
    )
    env = {"RUNWAY_FAILOVER_KEY": RUNWAY_KEY, "KLING_FAILOVER_KEY": KLING_KEY}
    gw = start_gateway(runway, tmp_path_factory.mktemp("failover"), "memory://", config=config, env=env)
    yield runway, kling, gw
    gw.proc.stop()
    runway.stop()
    kling.stop()


def calls(sim: Proc, *names: str) -> int:
    counted = httpx.get(sim.url + "/_sim/stats").json()["calls"]
    return sum(int(counted[name]) for name in names)


RUNWAY_CREATES = ("runway_text_to_video", "runway_image_to_video")
KLING_CREATES = ("kling_text2video", "kling_image2video")


def test_a_create_turned_away_by_the_first_provider_completes_on_the_second(stack: Stack, tmp_path: Path) -> None:
    runway, kling, gw = stack
    client = gw.client()
    raw = client.videos.with_raw_response.create(prompt="a red kite over the dunes", model="sora-2", seconds="8")
    created = raw.parse()
    adapted = raw.headers["x-sora-gateway-adapted"].split("; ")
    assert created.model_extra is not None and created.model_extra["provider"] == "kling", created
    assert created.model_extra["upstream_model"] == "kling-v2-5-turbo"
    assert "upstream=runway->kling(at capacity)" in adapted, adapted
    assert "model=sora-2->kling-v2-5-turbo" in adapted, adapted  # planned again for Kling, not Runway's plan
    assert calls(runway, *RUNWAY_CREATES) == 1 and calls(kling, *KLING_CREATES) == 1

    done = client.videos.poll(created.id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    out = tmp_path / "kite.mp4"
    out.write_bytes(client.videos.download_content(done.id).content)
    info = probe_video(out)
    assert (int(info["width"]), int(info["height"])) == (720, 1280)  # sora-2's default size, made by Kling
    assert abs(probe_duration(out) - 8) < 0.1

    second = client.videos.create(prompt="a blue kite over the sea", model="sora-2", seconds="5")
    assert second.model_extra is not None and second.model_extra["provider"] == "kling"
    assert calls(kling, *KLING_CREATES) == 2
    # Runway may have been asked again once its Retry-After passed; it made nothing either way
    assert httpx.get(runway.url + "/_sim/stats").json()["generations"] == 0


def test_a_create_answered_429_saturates_the_upstream_for_its_retry_after() -> None:
    now = [100.0]
    breaker = Breaker("a", clock=lambda: now[0])
    assert breaker.accepts_new_jobs
    breaker.saturate(30.0)
    assert not breaker.accepts_new_jobs and breaker.state == "closed"
    assert breaker.status()["saturated_for_s"] == 30.0
    now[0] += 29.0
    assert not breaker.accepts_new_jobs
    now[0] += 1.0
    assert breaker.accepts_new_jobs
    breaker.saturate(None)  # no Retry-After: the default pause
    assert not breaker.accepts_new_jobs
    now[0] += SATURATED_S
    assert breaker.accepts_new_jobs


def test_a_create_goes_to_the_first_provider_that_can_make_it(tmp_path: Path) -> None:
    runway = start_simulator("--api-key", RUNWAY_KEY, profile="runway", time_scale=0.004)
    kling = start_simulator("--api-key", KLING_KEY, profile="kling", time_scale=0.004)
    config = (
        FAST_CONFIG
        + "upstreams:\n"
        + f"  - {{url: {runway.url}, api_key_env: RUNWAY_FAILOVER_KEY, profile: runway}}\n"
        + f"  - {{url: {kling.url}, api_key_env: KLING_FAILOVER_KEY, profile: kling}}\n"
    )
    env = {"RUNWAY_FAILOVER_KEY": RUNWAY_KEY, "KLING_FAILOVER_KEY": KLING_KEY}
    gw = start_gateway(runway, tmp_path, "memory://", config=config, env=env)
    try:
        client = gw.client()
        first = client.videos.create(prompt="a harbour at noon", model="sora-2", seconds="4")
        native = client.videos.create(prompt="a harbour at dusk", model="kling-v3", seconds="5")  # Kling's own name
        assert first.model_extra is not None and native.model_extra is not None
        assert (first.model_extra["provider"], native.model_extra["provider"]) == ("runway", "kling")
        assert native.model == "kling-v3" and native.model_extra["upstream_model"] == "kling-v3"
        assert calls(runway, *RUNWAY_CREATES) == 1 and calls(kling, *KLING_CREATES) == 1
        with gw.http() as http:  # a model no upstream has: the first upstream's refusal, naming the field
            error = http.post("/v1/videos", json={"prompt": "x", "model": "veo-9"}).json()["error"]
        assert error["param"] == "model" and error["code"] == "model_not_found"
    finally:
        gw.proc.stop()
        runway.stop()
        kling.stop()
