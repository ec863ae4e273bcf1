"""The console's spend and savings behind the nginx of ``deploy/``, which hides ``/metrics``.

The real ``deploy/nginx.conf`` (only its upstream servers, listen port, log and content paths moved to
this test's processes) in front of a real gateway: ``/metrics`` answers 404 there, and what the console
reads — its page, its modules and the JSON API — shows what a team spent and what the cache saved.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.conftest import KEYS, Gateway, start_gateway, write_policies
from tests.procs import free_port, start_simulator

NGINX = "/usr/sbin/nginx"
ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "sk-admin-console-nginx-0123456789"


def nginx_conf(gateway_port: int, port: int, content: Path, tmp: Path) -> str:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf, servers = re.subn(r"(?m)^(\s*)server\s+gateway-\d+:8080([^;]*);\n", "", conf)
    assert servers == 2, "deploy/nginx.conf no longer names gateway-1 and gateway-2"
    conf = conf.replace("least_conn;", f"least_conn;\n        server 127.0.0.1:{gateway_port};", 1)
    conf, listens = re.subn(r"listen\s+8080;", f"listen 127.0.0.1:{port};", conf)
    assert listens == 1
    conf = conf.replace("access_log /dev/stdout gateway;", f"access_log {tmp}/access.log gateway;")
    conf = conf.replace("alias /var/lib/sora-gateway/content/;", f"alias {content}/;")
    top = f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;"
    conf = conf.replace("worker_processes auto;", top)
    temp = f"http {{\n    client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;"
    return conf.replace("http {", temp, 1)


@pytest.fixture(scope="module")
def behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Gateway]]:
    if not Path(NGINX).exists():  # .ci/run installs it; locally: apt-get install -y nginx
        pytest.fail(f"no nginx at {NGINX}: apt-get install -y nginx")
    sim = start_simulator(time_scale=0.02)
    tmp = tmp_path_factory.mktemp("nginx")
    policies = write_policies(tmp / "policies", {"acme": "quotas: {budget_usd_per_month: 25}\n"})
    gw = start_gateway(sim, tmp, "memory://", policies=policies, env={"SORA_GATEWAY_ADMIN_KEY": ADMIN_KEY})
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(gw.proc.port, port, gw.data_dir / "content", tmp))
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "nginx did not answer"
        time.sleep(0.1)
    yield url, gw
    proc.terminate()
    proc.wait(15)
    gw.proc.stop()
    sim.stop()


def test_spend_and_savings_behind_nginx_without_metrics(behind: tuple[str, Gateway]) -> None:
    url, gw = behind
    assert httpx.get(url + "/metrics").status_code == 404  # hidden from the public side
    assert httpx.get(gw.url + "/metrics").status_code == 200  # (each replica still has it)

    acme = OpenAI(base_url=url + "/v1", api_key=KEYS["acme"], max_retries=0)
    made = acme.videos.create_and_poll(prompt="a lighthouse behind a proxy", seconds="4", poll_interval_ms=50)
    hit = acme.videos.create(prompt="a lighthouse behind a proxy", seconds="4")  # a cache hit: $0.40 saved
    assert made.status == "completed" and hit.status == "completed"

    page = httpx.get(url + "/console")
    assert page.status_code == 200 and "/console/js/main.js" in page.text
    for name in re.findall(r'from "\./([\w-]+\.js)"', httpx.get(url + "/console/js/main.js").text):
        module = httpx.get(f"{url}/console/js/{name}")
        assert module.status_code == 200 and "/metrics" not in module.text, name

    team = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEYS['acme']}"}, timeout=30)
    deadline = time.monotonic() + 60
    while (usage := team.get("/v1/gateway/console/usage", params={"range": "day"}).json())["totals"]["spend_usd"] < 0.4:
        assert time.monotonic() < deadline, usage
        time.sleep(0.1)
    totals = usage["totals"]
    assert (totals["spend_usd"], totals["saved_usd"], totals["cache_hits"], totals["requests"]) == (0.4, 0.4, 1, 2)
    assert usage["budget"] == {"usd_per_month": 25.0, "spent_usd_this_month": 0.4}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    whole = httpx.get(url + "/v1/gateway/console/usage", params={"range": "hour"}, headers=admin).json()
    assert whole["teams"]["acme"]["saved_usd"] == 0.4 and whole["totals"]["spend_usd"] == 0.4
    tiles = httpx.get(url + "/v1/gateway/console/providers", headers=admin).json()["data"]
    assert tiles[0]["spend_usd_today"] == 0.4 and tiles[0]["level"] == "ok"
