"""``sora-gateway demo``: the simulator and the gateway in one process, ready for the official SDK."""

from __future__ import annotations

import argparse
import asyncio
import errno
import secrets
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn

from gateway.app import create_app
from gateway.config import Settings
from gateway.observability import configure_logging
from gateway.pipeline.auth import hash_key
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.server import GracefulServer
from gateway.simulator.server import build_app as build_simulator

DEMO_KEY = "sk-demo-" + "0" * 24

SNIPPET = """
  sora-gateway demo is running.

    base URL      {base}
    demo key      {key}
    simulator     {sim} (profile {profile}, time scale {scale})
    metrics       {root}/metrics

  Try it with the official SDK (pip install openai):

    from openai import OpenAI

    client = OpenAI(base_url="{base}", api_key="{key}")
    video = client.videos.create_and_poll(prompt="a lighthouse at dawn", seconds="8")
    client.videos.download_content(video.id).write_to_file("lighthouse.mp4")
    for v in client.videos.list(limit=10):
        print(v.id, v.status, v.seconds)

  or with curl:

    KEY={key}
    curl -s {base}/videos -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
         -d '{{"prompt": "a lighthouse at dawn", "seconds": "4"}}'
    curl -s {base}/videos/video_... -H "Authorization: Bearer $KEY"        # answered from gateway state
    curl -s -o out.mp4 {base}/videos/video_.../content -H "Authorization: Bearer $KEY"
    curl -s {root}/readyz; curl -s {root}/metrics | grep sora_gateway_

  Ctrl-C stops it.
"""


class PortInUse(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    """Raise :class:`PortInUse` when ``host:port`` cannot be bound (as uvicorn binds it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot bind {host}:{port}: {exc.strerror}; try --host 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is in use; try --port {port + 1}") from None
            raise PortInUse(f"cannot bind {host}:{port}: {exc.strerror}") from None


def demo_policies(root: Path) -> Path:
    tenants = root / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (tenants / "demo.yaml").write_text(
        "# written by `sora-gateway demo`\n"
        f'tenant: demo\napi_keys: ["{hash_key(DEMO_KEY)}"]\n'
        "quotas: {requests_per_minute: 120, concurrent_jobs: 8}\n"
    )
    return root


async def _serve(args: argparse.Namespace, work: Path) -> None:
    sim_port = _free_port()
    sim_config = SimulatorConfig(profile=args.profile, time_scale=args.time_scale, host="127.0.0.1", port=sim_port)
    upstream_key = "sk-sim-" + secrets.token_hex(12)
    settings = Settings(
        host=args.host,
        port=args.port,
        policies=str(demo_policies(work / "policies")),
        upstream=f"http://127.0.0.1:{sim_port}/v1",
        upstream_api_key=upstream_key,
        store=f"sqlite:///{work / 'gateway.db'}",
        data_dir=str(work / "data"),
        log_format="console",
        log_level="info",
        poll_min_s=0.2,
        detect_interval_s=0,
        callback_allow_nets="127.0.0.0/8",  # a local receiver may take callbacks (refused by default)
    )
    sim = GracefulServer(
        uvicorn.Config(build_simulator(sim_config), host="127.0.0.1", port=sim_port, log_config=None, access_log=False)
    )
    gateway = GracefulServer(
        uvicorn.Config(create_app(settings), host=args.host, port=args.port, log_config=None, access_log=False)
    )
    sim_task = asyncio.create_task(sim.serve())
    while not sim.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.05)
    root = f"http://{args.host}:{args.port}"
    gw_task = asyncio.create_task(gateway.serve())
    while not gateway.started and not gw_task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if not gateway.started:  # it could not bind after all (taken since the check)
        sim.should_exit = True
        await sim_task
        raise PortInUse(f"the gateway could not start on {args.host}:{args.port}; try another --port")
    print(
        SNIPPET.format(
            base=root + "/v1",
            root=root,
            key=DEMO_KEY,
            sim=f"http://127.0.0.1:{sim_port}/v1",
            profile=args.profile,
            scale=args.time_scale,
        ),
        flush=True,
    )
    await gw_task
    sim.should_exit = True
    await sim_task


def run_demo(args: argparse.Namespace) -> int:
    try:
        _check_port(args.host, args.port)
    except PortInUse as exc:
        print(f"sora-gateway demo: error: {exc}", file=sys.stderr)
        return 2
    configure_logging("info", "console")  # one human-readable line per request and job transition
    with tempfile.TemporaryDirectory(prefix="sora-gateway-demo-", ignore_cleanup_errors=True) as work:
        try:
            asyncio.run(_serve(args, Path(work)))
        except KeyboardInterrupt:
            pass
        except (PortInUse, SystemExit) as exc:  # uvicorn exits when it cannot bind
            print(f"sora-gateway demo: error: {exc or 'the gateway could not start'}", file=sys.stderr)
            return 2
    return 0
