"""``sora-gateway serve``: settings, logging, uvicorn."""

from __future__ import annotations

import argparse
import json
import os
import sys

import uvicorn
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.config import ConfigError, Settings, build_settings
from gateway.observability import configure_logging

SETTINGS_ENV = "SORA_GATEWAY__SETTINGS_JSON"


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags = {k: v for k, v in vars(args).items() if k not in ("command",)}
    return build_settings(flags)


def app_from_env() -> Starlette:
    """Factory for ``--workers > 1``: each worker rebuilds the settings the parent validated."""
    data = json.loads(os.environ[SETTINGS_ENV])
    settings = Settings(**{k: v for k, v in data.items() if k != "replica_id"})
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def run_serve(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"sora-gateway: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    common = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
    }
    if settings.workers > 1:
        data = {k: v for k, v in vars(settings).items()}
        os.environ[SETTINGS_ENV] = json.dumps(data)
        uvicorn.run("gateway.server:app_from_env", factory=True, workers=settings.workers, **common)
        return 0
    uvicorn.run(create_app(settings), **common)
    return 0
