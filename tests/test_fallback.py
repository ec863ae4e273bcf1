"""Two upstreams in order of preference: when the first dies, new jobs go to the second.

The first upstream is an OpenAI simulator (openai-2026-03), the second an Azure Sora 1 simulator
(another dialect: jobs API, its own sizes and translation). The client sees one API throughout
(the official SDK). The first is SIGKILLed while a job runs on it: the failing polls open its
circuit breaker, new jobs complete on Azure, the running job stays where it is. The first comes
back: its breaker half-opens, a free probe closes it, and new jobs go to it again.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from openai import OpenAI

from gateway.media.probe import probe_video
from tests.conftest import FAST_CONFIG, KEYS, UPSTREAM_KEY, sim_stats, write_policies
from tests.procs import Proc, free_port, start_simulator, wait_for

KEY_A, KEY_B = "sk-upstream-a-0123456789abcdef", "sk-upstream-b-0123456789abcdef"
POLL = {"poll_interval_ms": 100}


def generations(sim: Proc) -> int:
    return int(sim_stats(sim)["generations"])  # type: ignore[arg-type]


def upstreams(gw: Proc) -> dict[str, dict[str, object]]:
    ready = httpx.get(gw.url + "/readyz", timeout=10).json()["checks"]["upstream"]
    return {str(u["name"]): u for u in ready["upstreams"]}


def breaker(gw: Proc, name: str) -> str:
    return str(dict(upstreams(gw)[name]["breaker"])["state"])  # type: ignore[arg-type]


def metric(gw: Proc, name: str, **labels: str) -> float:
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # the exposition sorts them
    match = re.search(rf"^{re.escape(name)}{{{re.escape(want)}}} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def seconds_of(client: OpenAI, vid: str, tmp: Path) -> float:
    out = tmp / f"{vid}.mp4"
    out.write_bytes(client.videos.download_content(vid).content)
    return float(probe_video(str(out))["duration"])


def test_new_jobs_fall_back_to_the_second_upstream_and_return(tmp_path: Path) -> None:
    first = start_simulator(profile="openai-2026-03", time_scale=0.1)  # a 12 s video runs ~10 s
    second = start_simulator(profile="azure-sora-1", time_scale=0.01)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        FAST_CONFIG
        + "breaker_failures: 3\nbreaker_open_s: 2\nupstreams:\n"
        + f"  - {{url: {first.url}/v1, api_key_env: SIM_A_KEY}}\n"
        + f"  - {{url: {second.url}/v1, api_key_env: SIM_B_KEY, profile: azure-sora-1}}\n"
    )
    port = free_port()
    args = ["serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 'gw.db'}", "--config", str(config)]
    args += ["--policies", str(write_policies(tmp_path / "policies")), "--data-dir", str(tmp_path / "data")]
    gw = Proc(args, port, env={"SIM_A_KEY": KEY_A, "SIM_B_KEY": KEY_B, "SORA_GATEWAY_UPSTREAM_API_KEY": ""})
    gw.log_path = tmp_path / "gateway.log"
    gw.start()
    a, b = f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"
    client = OpenAI(base_url=gw.url + "/v1", api_key=KEYS["acme"], max_retries=0)
    try:
        wait_for(lambda: httpx.get(gw.url + "/readyz").status_code == 200, "readiness", 60)
        assert set(upstreams(gw)) == {a, b}
        assert httpx.get(gw.url + "/readyz").json()["checks"]["upstream"]["upstream"] == a

        running = client.videos.create(prompt="a long harbour scene", seconds="12")  # on the first
        assert generations(first) == 1 and generations(second) == 0
        first.kill()  # mid-run: the job's polls now fail

        wait_for(lambda: breaker(gw, a) == "open", "the first upstream's breaker to open", 90)
        assert metric(gw, "sora_gateway_upstream_breaker_state", upstream=a) == 2
        assert httpx.get(gw.url + "/readyz").json()["checks"]["upstream"]["upstream"] == b

        fallen = client.videos.create_and_poll(prompt="a lighthouse at dawn", seconds="4", **POLL)
        assert fallen.status == "completed", fallen.error
        assert generations(second) == 1, "the new job should have gone to the second upstream"
        assert abs(seconds_of(client, fallen.id, tmp_path) - 4) < 0.2
        assert client.videos.retrieve(running.id).status in ("queued", "in_progress"), "a running job moved"

        back = Proc(first.args, first.port).start(ready_path="/_sim/stats")  # the first is back
        try:
            wait_for(lambda: breaker(gw, a) == "closed", "the breaker to half-open and close", 90)
            assert metric(gw, "sora_gateway_upstream_breaker_transitions_total", upstream=a, state="half_open") >= 1
            assert httpx.get(gw.url + "/readyz").json()["checks"]["upstream"]["upstream"] == a
            before = generations(back)
            returned = client.videos.create(prompt="a kite over the dunes", seconds="4")
            assert generations(back) >= before + 1, "new jobs should go to the first upstream again"
            assert generations(second) == 1
            # the job that ran on the first stays there: the restarted simulator lost it, so it is
            # made again there (upstream_lost -> retry), never moved to the second upstream
            for vid, seconds in ((returned.id, 4), (running.id, 12)):
                done = client.videos.poll(vid, **POLL)
                assert done.status == "completed", done.error
                assert abs(seconds_of(client, vid, tmp_path) - seconds) < 0.2
            assert generations(second) == 1
        finally:
            back.stop()
        logs = gw.logs()
        assert KEY_A not in logs and KEY_B not in logs and UPSTREAM_KEY not in logs
    finally:
        gw.stop()
        first.kill()
        second.stop()


def test_a_job_accepted_before_the_breaker_opened_moves_to_a_twin_upstream(tmp_path: Path) -> None:
    """Its create was refused at the door (connection refused): nothing upstream, so it may move."""
    first = start_simulator(profile="openai-2026-03")
    second = start_simulator(profile="openai-2026-03")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        FAST_CONFIG
        + "breaker_failures: 3\nbreaker_open_s: 30\nupstreams:\n"
        + f"  - {{url: {first.url}/v1, api_key_env: SIM_A_KEY}}\n"
        + f"  - {{url: {second.url}/v1, api_key_env: SIM_B_KEY}}\n"
    )
    port = free_port()
    args = ["serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 'gw.db'}", "--config", str(config)]
    args += ["--policies", str(write_policies(tmp_path / "policies")), "--data-dir", str(tmp_path / "data")]
    gw = Proc(args, port, env={"SIM_A_KEY": KEY_A, "SIM_B_KEY": KEY_B, "SORA_GATEWAY_UPSTREAM_API_KEY": ""})
    gw.log_path = tmp_path / "gateway.log"
    gw.start()
    a = f"127.0.0.1:{first.port}"
    client = OpenAI(base_url=gw.url + "/v1", api_key=KEYS["acme"], max_retries=0)
    try:
        wait_for(lambda: httpx.get(gw.url + "/readyz").status_code == 200, "readiness", 60)
        first.kill()  # its breaker is still closed: the next create is routed there and refused at the door
        video = client.videos.create(prompt="a ferry crossing at night", seconds="4")
        assert video.status == "queued"
        done = client.videos.poll(video.id, **POLL)
        assert done.status == "completed", done.error
        assert breaker(gw, a) == "open"
        assert generations(second) == 1
        assert abs(seconds_of(client, video.id, tmp_path) - 4) < 0.2
        assert "job_rerouted" in gw.logs()
    finally:
        gw.stop()
        first.kill()
        second.stop()
