"""``sora-gateway demo``: the simulator and the gateway in one process, ready for the official SDK."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import secrets
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn

from gateway import invocation
from gateway.app import create_app
from gateway.config import Settings
from gateway.observability import configure_logging, log
from gateway.pipeline.auth import hash_key
from gateway.providers import CATALOG
from gateway.simulator.app import build_app as build_simulator
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.server import GracefulServer

DEMO_KEY = "sk-demo-" + "0" * 24
DEMO_ADMIN_KEY = "sk-demo-admin-" + "0" * 18

SNIPPET = """
  sora-gateway demo is running.

    base URL      {base}
    demo key      {key}
    console       {root}/console          (sign in with the demo key, or the admin key for everything)
    admin key     {admin}
    usage         {base}/gateway/usage       (admin: {base}/gateway/admin/usage)
    simulator     {sim} (profile {profile}, time scale {scale})
    models        {base}/models   ({models})
    metrics       {root}/metrics
    data          {data}

  The client command (another terminal):

    export OPENAI_BASE_URL={base} OPENAI_API_KEY={key}
    {command} generate "a lighthouse at dawn" --seconds 10 -o lighthouse.mp4

  The official SDK (install it with {pip} install openai; run this with {python}):

    from openai import OpenAI

    client = OpenAI(base_url="{base}", api_key="{key}")
    video = client.videos.create_and_poll(prompt="a lighthouse at dawn", seconds="8")
    client.videos.download_content(video.id).write_to_file("lighthouse.mp4")
    for v in client.videos.list(limit=10):
        print(v.id, v.status, v.seconds)

  or curl (keep the id, wait for completed, then download; -f keeps an error out of the file):

    KEY={key}
    ID=$(curl -sf {base}/videos -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
         -d '{{"prompt": "a lighthouse at dawn", "seconds": "4"}}' \\
         | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    until curl -sf {base}/videos/$ID -H "Authorization: Bearer $KEY" \\
          | grep -Eq '"status":"(completed|failed)"'; do sleep 1; done
    curl -sf -o out.mp4 {base}/videos/$ID/content -H "Authorization: Bearer $KEY"
    curl -s {base}/gateway/usage -H "Authorization: Bearer $KEY"; echo
    curl -s {root}/readyz; echo; curl -s {root}/metrics | grep sora_gateway_

  Simulated videos are small (72x128 or 128x72 at 10 fps) whatever size they report.
  {ending}
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


def pinned_profile(profile: str) -> str | None:
    """The profile the gateway is told, where detection cannot tell it from a loopback URL (a provider
    recognised only by its public host); None where a free probe finds it (the Sora family)."""
    provider = next(p for p in CATALOG.providers if profile in p.profiles)
    return None if provider.probe is not None else profile


def model_map_line(profile: str) -> str:
    """``sora-2 -> kling-v2-5-turbo, sora-2-pro -> kling-v3``: what the Sora names make on ``profile``."""
    caps = CATALOG.capabilities(profile)
    names = ("sora-2", "sora-2-pro")
    return ", ".join(
        f"{name} -> {caps.base_model(name)}" for name in names if caps.base_model(name) not in (None, name)
    )


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
    sim_profiles = CATALOG.simulator_profiles()
    sim_url = f"http://127.0.0.1:{sim_port}{sim_profiles[args.profile].base_path}"
    upstream_key = "sk-sim-" + secrets.token_hex(12)
    settings = Settings(
        host=args.host,
        port=args.port,
        policies=str(demo_policies(work / "policies")),
        admin_key=DEMO_ADMIN_KEY,
        upstream=sim_url,
        upstream_api_key=upstream_key,
        upstream_profile=pinned_profile(args.profile),
        store=f"sqlite:///{work / 'gateway.db'}",
        data_dir=str(work / "data"),
        log_format="console",
        log_level="info",
        poll_min_s=0.2,
        detect_interval_s=0,
        callback_allow_nets="127.0.0.0/8",  # a local receiver may take callbacks (refused by default)
    )
    sim = GracefulServer(
        uvicorn.Config(
            build_simulator(sim_config, sim_profiles),
            host="127.0.0.1",
            port=sim_port,
            log_config=None,
            access_log=False,
        )
    )
    gateway = GracefulServer(
        uvicorn.Config(create_app(settings), host=args.host, port=args.port, log_config=None, access_log=False)
    )
    # both servers log through uvicorn's one logger: keep the simulator's start and stop lines out, so
    # each start-up and shut-down line is the gateway's and appears once
    server_log = logging.getLogger("uvicorn.error")
    server_log.disabled = True
    sim_task = asyncio.create_task(sim.serve())
    while not sim.started and not sim_task.done():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.05)
    server_log.disabled = False
    log.info("simulator_started", url=sim_url, profile=args.profile)
    root = f"http://{args.host}:{args.port}"
    gw_task = asyncio.create_task(gateway.serve())
    while not gateway.started and not gw_task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if not gateway.started:  # it could not bind after all (taken since the check)
        server_log.disabled = True
        sim.should_exit = True
        await sim_task
        raise PortInUse(f"the gateway could not start on {args.host}:{args.port}; try another --port")
    print(
        SNIPPET.format(
            base=root + "/v1",
            root=root,
            key=DEMO_KEY,
            admin=DEMO_ADMIN_KEY,
            data=work,
            ending=(
                f"Ctrl-C stops it; the videos stay in {work}."
                if args.data_dir
                else "Ctrl-C stops it and deletes its videos (--data-dir DIR keeps them)."
            ),
            sim=sim_url,
            profile=args.profile,
            models=model_map_line(args.profile) or "the Sora models as they are",
            scale=args.time_scale,
            command=invocation.command(),  # runnable as printed, venv active or not
            pip=invocation.tool("pip") or f"{invocation.python()} -m pip",
            python=invocation.python(),
        ),
        flush=True,
    )
    await gw_task
    server_log.disabled = True
    sim.should_exit = True
    await sim_task


def run_demo(args: argparse.Namespace) -> int:
    try:
        _check_port(args.host, args.port)
    except PortInUse as exc:
        print(f"sora-gateway demo: error: {exc}", file=sys.stderr)
        return 2
    configure_logging("info", "console")  # one human-readable line per request and job transition
    with contextlib.ExitStack() as stack:
        if args.data_dir:
            work = Path(args.data_dir).resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            temp = tempfile.TemporaryDirectory(prefix="sora-gateway-demo-", ignore_cleanup_errors=True)
            work = Path(stack.enter_context(temp))
        try:
            asyncio.run(_serve(args, work))
        except KeyboardInterrupt:
            pass
        except (PortInUse, SystemExit) as exc:  # uvicorn exits when it cannot bind
            print(f"sora-gateway demo: error: {exc or 'the gateway could not start'}", file=sys.stderr)
            return 2
    return 0
