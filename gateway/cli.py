"""The ``sora-gateway`` command line. Every flag also reads ``SORA_GATEWAY_<FLAG>``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def env_default(flag: str, default: str | None = None) -> str | None:
    """The default for ``--flag``: ``SORA_GATEWAY_FLAG`` when set, else ``default``."""
    return os.environ.get("SORA_GATEWAY_" + flag.upper().replace("-", "_"), default)


def add_serve_arguments(parser: argparse.ArgumentParser, *, demo: bool = False) -> None:
    e = env_default
    parser.add_argument("--host", default=e("host", "127.0.0.1"), help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(e("port", "8080") or 8080), help="port (default 8080)")
    if demo:
        return
    parser.add_argument("--config", default=e("config"), help="YAML settings file (flags and env override it)")
    parser.add_argument("--policies", default=e("policies"), help="policies directory (default ./policies)")
    parser.add_argument(
        "--upstream",
        default=e("upstream"),
        help="upstream API base as the OpenAI SDK's base_url takes it (default https://api.openai.com/v1)",
    )
    parser.add_argument(
        "--store",
        default=e("store"),
        help="memory://, sqlite:///path (default sqlite:///./.sora-gateway/gateway.db) or redis://host:port/db",
    )
    parser.add_argument("--workers", type=int, default=int(e("workers", "1") or 1), help="worker processes")
    parser.add_argument("--data-dir", default=e("data_dir"), help="where content and uploads are kept")
    parser.add_argument(
        "--allow-anonymous",
        action="store_true",
        default=(e("allow_anonymous", "") or "").lower() in {"1", "true", "yes"},
        help="accept requests without a tenant key (local use only)",
    )
    parser.add_argument("--upstream-profile", default=e("upstream_profile"), help="pin the upstream profile")
    parser.add_argument("--log-level", default=e("log_level"), help="debug, info, warning, error")
    parser.add_argument("--log-format", default=e("log_format"), choices=[None, "json", "console"], help="log format")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-gateway",
        description="A version-adaptive reverse proxy in front of OpenAI's Sora video API.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="simulator + gateway in one process, ready for the official SDK")
    add_serve_arguments(demo, demo=True)
    demo.add_argument("--profile", default=env_default("profile", "openai-2026-03"), help="simulator profile")
    demo.add_argument("--time-scale", type=float, default=float(env_default("time_scale", "0.05") or 0.05))

    serve = sub.add_parser("serve", help="run the gateway")
    add_serve_arguments(serve)

    from gateway.simulator.server import add_arguments as add_simulator_arguments

    simulator = sub.add_parser("simulator", help="a Sora-compatible upstream for development, demos and tests")
    add_simulator_arguments(simulator)

    policies = sub.add_parser("policies", help="policy files")
    policies_sub = policies.add_subparsers(dest="policies_command", required=True, metavar="ACTION")
    check = policies_sub.add_parser("check", help="validate tenant and content-policy files")
    check.add_argument("dir", nargs="?", default="policies", help="policies directory (default ./policies)")

    keys = sub.add_parser("keys", help="tenant keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    hash_cmd = keys_sub.add_parser("hash", help="print the sha256: form of a key for a tenant file")
    hash_cmd.add_argument("key", help="the key to hash")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "keys":
        from gateway.pipeline.auth import hash_key

        print(hash_key(args.key))
        return 0
    if args.command == "policies":
        from gateway.policies.check import check_command

        return check_command(args.dir)
    if args.command == "simulator":
        from gateway.simulator.server import run_from_args

        return run_from_args(args)
    if args.command == "demo":
        from gateway.demo import run_demo

        return run_demo(args)
    from gateway.server import run_serve

    return run_serve(args)


if __name__ == "__main__":
    sys.exit(main())
