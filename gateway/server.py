"""``sora-gateway serve``: settings, logging, uvicorn, and multiprocess metrics for ``--workers > 1``.

With several workers each one is a replica of its own (own replica id, own
driver loop, leases shared through the store). Prometheus metrics then live in
mmap files under ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory
unless the operator sets one; wiped at start), so ``/metrics`` on any worker
reports the sum of all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from gateway.app import create_app, open_content_or_explain, open_or_explain
from gateway.config import SECRETS, ConfigError, Settings, apply_secrets_from_env, build_settings
from gateway.connections import GuardedProtocol, set_limits
from gateway.observability import MULTIPROC_ENV, configure_logging, log, register_secret
from gateway.policies.holder import PolicyHolder
from gateway.urls import register_url_secrets

SETTINGS_ENV = "SORA_GATEWAY__SETTINGS_JSON"  # the validated settings, without the keys


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags = {k: v for k, v in vars(args).items() if k not in ("command",)}
    return build_settings(flags)


def _configure(settings: Settings) -> None:
    set_limits(settings.header_timeout_s, settings.max_connections)
    register_secret(settings.upstream_api_key)
    register_secret(settings.admin_key)
    register_url_secrets(settings.upstream, *(entry["url"] for entry in settings.upstreams or ()))
    configure_logging(settings.log_level, settings.log_format)


def prepare_multiprocess_metrics() -> tuple[str, bool]:
    """Point prometheus-client at an empty directory shared by the workers; ``(path, created_here)``."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # counters of an earlier run must not leak into this one
            stale.unlink()
        return str(path), False
    path_str = tempfile.mkdtemp(prefix="sora-gateway-metrics-")
    os.environ[MULTIPROC_ENV] = path_str
    return path_str, True


def worker_settings_json(settings: Settings) -> str:
    """What the parent hands its workers: every setting but the keys (they stay in the environment only)."""
    return json.dumps({k: v for k, v in vars(settings).items() if k not in SECRETS})


def settings_from_env() -> Settings:
    """A worker's settings: the parent's, with the keys re-read from the environment it inherited."""
    data = json.loads(os.environ[SETTINGS_ENV])
    settings = Settings(**{k: v for k, v in data.items() if k not in ("replica_id", *SECRETS)})
    return apply_secrets_from_env(settings)


def app_from_env() -> Starlette:
    """Factory for ``--workers > 1``: each worker rebuilds the settings the parent validated."""
    settings = settings_from_env()
    _configure(settings)
    app = create_app(settings)

    async def mark_dead() -> None:  # drop this worker's live gauges from the merged view
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())

    app.state.ctx.closers.append(mark_dead)
    return app


async def _check_stores(settings: Settings) -> None:
    """Open and close the store and the content store (a :class:`ConfigError` names the flag)."""
    store = open_or_explain(settings)
    await store.close()
    open_content_or_explain(settings)


def run_serve(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"sora-gateway serve: error: {exc}", file=sys.stderr)
        return 2
    _configure(settings)
    policies = PolicyHolder(settings.policies, required=not settings.allow_anonymous, reload_s=0)
    if not policies.reload():  # refuse before binding a port, without a traceback from the lifespan
        for problem in policies.problems:
            print(problem, file=sys.stderr)
        print(
            f"sora-gateway serve: error: policies in {settings.policies} have {len(policies.problems)} "
            "problem(s); not starting (sora-gateway policies check explains them)",
            file=sys.stderr,
        )
        return 1
    common = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
        "http": GuardedProtocol,  # uvicorn's (httptools) with a header timeout and a JSON connection limit
    }
    if settings.workers > 1:
        try:  # each worker opens them again; a path none of them could use stops the start here, plainly
            asyncio.run(_check_stores(settings))
        except ConfigError as exc:
            print(f"sora-gateway serve: error: {exc}", file=sys.stderr)
            return 2
        metrics_dir, created = prepare_multiprocess_metrics()
        log.info("multiprocess_metrics", workers=settings.workers, directory=metrics_dir)
        os.environ[SETTINGS_ENV] = worker_settings_json(settings)
        try:
            uvicorn.run("gateway.server:app_from_env", factory=True, workers=settings.workers, **common)
        finally:
            if created:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0
    try:
        app = create_app(settings)
    except ConfigError as exc:  # the store or content store cannot be opened: say which flag, no traceback
        print(f"sora-gateway serve: error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, **common)
    return 0
