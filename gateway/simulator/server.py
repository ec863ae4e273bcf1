"""The simulator's command line (``sora-gateway simulator``): flags, config, serving.

Which profiles it can imitate is not its to know: the command (``gateway/cli.py``) hands it the
provider catalog's simulator profiles.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from types import FrameType

import uvicorn

from gateway.cliargs import SIMULATOR_PREFIX, env_default, env_value, one_of
from gateway.simulator.app import build_app
from gateway.simulator.config import SimulatorConfig, split_words
from gateway.simulator.errors import DropConnection
from gateway.simulator.faults import FaultSpec, parse_faults
from gateway.simulator.profile import SimProfile

# flag -> (type, default, metavar, help); each also reads SORA_GATEWAY_SIMULATOR_<FLAG>
TUNING: dict[str, tuple[type, object, str | None, str]] = {
    "--time-scale": (
        float,
        1.0,
        "X",
        "multiplies every job duration and the content TTL (default 1.0; 0.01: about 1%% of real time)",
    ),
    "--faults": (
        str,
        "",
        "SPEC",
        "e.g. 5xx=0.1,429=0.05,reset=0.01,slow=0.05,late=0.05,fail=0.1 (slow_s=SECONDS sets the delay)",
    ),
    "--rpm": (int, 0, None, "create-like requests per minute per key (default 0: unlimited)"),
    "--max-concurrent": (int, 0, "N", "queued+running jobs per key (default 0: unlimited)"),
    "--moderation-words": (
        str,
        "forbidden,gore",
        "A,B",
        "comma list of words that trip moderation (default forbidden,gore)",
    ),
    "--content-ttl": (
        float,
        3600.0,
        "S",
        "seconds content stays downloadable after completion, times time-scale (default 3600)",
    ),
}


def add_arguments(parser: argparse.ArgumentParser, profiles: Sequence[str], default_profile: str) -> None:
    """The simulator's flags; each also reads ``SORA_GATEWAY_SIMULATOR_<FLAG>``."""

    def e(flag: str, default: object = None) -> object:
        return env_default(flag, default, SIMULATOR_PREFIX)

    parser.add_argument("--host", default=e("host", "127.0.0.1"), help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=e("port", 9000), help="port (default 9000)")
    parser.add_argument(
        "--profile",
        type=one_of(profiles),
        default=e("profile", default_profile),
        choices=list(profiles),
        help=f"upstream version to imitate (default {default_profile})",
    )
    for flag, (kind, default, metavar, text) in TUNING.items():
        parser.add_argument(flag, type=kind, default=e(flag[2:], default), metavar=metavar, help=text)
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accepted key (repeatable; env: comma list); default: any non-empty key",
    )
    parser.add_argument(
        "--ignore-idempotency",
        action="store_true",
        default=str(e("ignore_idempotency", "")).lower() in {"1", "true", "yes", "on"},
        help="ignore Idempotency-Key (not every real API honours it): a re-sent create starts a second generation",
    )
    parser.add_argument("--seed", type=int, default=e("seed"), help="random seed for faults (default: random)")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error", "critical"],
        default=e("log_level", "info"),
        help="(default info)",
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "console"],
        default=e("log_format", "json"),
        help="JSON lines like the gateway's (default) or console lines",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    keys = args.api_key if args.api_key else split_words(env_value("api_key", SIMULATOR_PREFIX))
    faults: FaultSpec = parse_faults(args.faults)
    return SimulatorConfig(
        profile=args.profile,
        time_scale=args.time_scale,
        faults=faults,
        api_keys=tuple(keys),
        rpm=args.rpm,
        max_concurrent=args.max_concurrent,
        moderation_words=split_words(args.moderation_words),
        content_ttl=args.content_ttl,
        seed=args.seed,
        ignore_idempotency=args.ignore_idempotency,
        host=args.host,
        port=args.port,
    )


class GracefulServer(uvicorn.Server):
    """Exits with status 0 after a graceful shutdown on SIGTERM/SIGINT (uvicorn would re-raise the signal,
    killing the process before anything after ``serve()`` runs, e.g. the demo's temporary directory cleanup)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def run_from_args(args: argparse.Namespace, profiles: Mapping[str, SimProfile]) -> int:
    """Serve until SIGINT/SIGTERM (uvicorn finishes in-flight requests, then exits 0)."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"sora-gateway simulator: error: {exc}", file=sys.stderr)
        return 2
    from gateway.observability import configure_logging
    from gateway.observability import log as events

    configure_logging(args.log_level, args.log_format)  # the gateway's setup: JSON lines (or console lines)
    app = build_app(config, profiles)
    events.info(
        "simulator_started",
        profile=config.profile,
        time_scale=config.time_scale,
        faults=config.faults.describe(),
        url=f"http://{config.host}:{config.port}{profiles[config.profile].base_path}",
    )
    server = GracefulServer(
        uvicorn.Config(
            app, host=config.host, port=config.port, log_config=None, access_log=False, timeout_graceful_shutdown=5
        )
    )
    server.run()
    return 0


__all__ = ["DropConnection", "GracefulServer", "SimulatorConfig", "add_arguments", "build_app", "run_from_args"]
