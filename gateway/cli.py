"""The ``sora-gateway`` command line (also ``python -m gateway``).

Every flag also reads ``SORA_GATEWAY_<FLAG>``; ``serve`` reads one for every setting, including those
without a flag (``gateway/config.py``). Usage errors are ``sora-gateway <command>: error: ...``, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cliargs import Parser, env_default, one_of
from gateway.config import DEFAULT_STORE, DEFAULT_UPSTREAM, Settings
from gateway.providers import CATALOG, PROFILES

DEMO_PROFILE = "openai-2026-03"

EXAMPLES = """\
examples:
  sora-gateway demo                                  simulator + gateway, a demo key, ready for the SDK
  export SORA_GATEWAY_UPSTREAM_API_KEY=sk-...
  sora-gateway serve --policies policies/ --store sqlite:////var/lib/sora-gateway/gw.db
  sora-gateway keys hash sk-team-acme-secret         the sha256: form for policies/tenants/acme.yaml
  sora-gateway policies check policies/
  export OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=sk-demo-000000000000000000000000
  sora-gateway generate "a lighthouse at dawn" --seconds 10 -o lighthouse.mp4

run `sora-gateway COMMAND --help` for a command's flags."""

SERVE_EPILOG = """\
The upstream key is read only from the environment: SORA_GATEWAY_UPSTREAM_API_KEY (or OPENAI_API_KEY).
Every flag and every setting of the config file also reads SORA_GATEWAY_<SETTING>, e.g.
SORA_GATEWAY_STORE, SORA_GATEWAY_CACHE_TTL_S (SORA_GATEWAY_UPSTREAM_URL works for --upstream).
Precedence: defaults < --config FILE < environment < flags."""


def _key(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("the key is empty; pass the key a team will send as its bearer token")
    return value


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=env_default("host", "127.0.0.1"), help="interface to bind (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=env_default("port", 8080), help="gateway port (default 8080)")
    simulated = list(CATALOG.simulator_profiles())
    parser.add_argument(
        "--profile",
        type=one_of(simulated),
        choices=simulated,
        default=env_default("profile", DEMO_PROFILE),
        help=f"upstream the bundled simulator imitates: a Sora version or a live provider (default {DEMO_PROFILE})",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=env_default("time_scale", 0.05),
        metavar="X",
        help="simulated generation time as a fraction of a real one's (default 0.05: an 8 s video in ~3 s)",
    )
    parser.add_argument(
        "--data-dir",
        default=env_default("data_dir"),
        metavar="DIR",
        help="keep the demo's store, policies and videos in DIR (default: a temporary directory deleted at exit)",
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags default to ``None`` (not given): ``build_settings`` merges them over file and environment."""
    d = Settings()
    parser.add_argument("--host", help=f"interface to bind (default {d.host})")
    parser.add_argument("--port", type=int, help=f"port (default {d.port})")
    parser.add_argument("--config", metavar="FILE", help="YAML settings file (environment and flags override it)")
    parser.add_argument("--policies", metavar="DIR", help=f"policies directory (default ./{d.policies})")
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help=f"upstream API base, as the OpenAI SDK's base_url (default {DEFAULT_UPSTREAM})",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help=f"memory://, sqlite:///relative/path, sqlite:////absolute/path or redis://host:port/db "
        f"(default {DEFAULT_STORE})",
    )
    parser.add_argument("--workers", type=int, metavar="N", help=f"worker processes (default {d.workers})")
    parser.add_argument("--data-dir", metavar="DIR", help=f"kept videos and uploads (default ./{d.data_dir})")
    parser.add_argument(
        "--content-store",
        metavar="URL",
        help="where finished videos and uploads are kept: file://DIR (default <data-dir>/content) or "
        "s3://bucket[/prefix] (endpoint, region and keys from AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
    )
    parser.add_argument(
        "--allow-anonymous",
        action=argparse.BooleanOptionalAction,
        help="accept requests without a tenant key, as tenant 'anonymous' (local use only; default off)",
    )
    parser.add_argument(
        "--upstream-profile", choices=list(PROFILES), help="pin the upstream profile (default: detect it)"
    )
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error", "critical"], help=f"(default {d.log_level})"
    )
    parser.add_argument("--log-format", choices=["json", "console"], help=f"(default {d.log_format})")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sora-gateway",
        description="A version-adaptive reverse proxy in front of OpenAI's Sora video API.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"sora-gateway {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="simulator + gateway in one process, ready for the official SDK",
        description="Run the bundled Sora simulator and the gateway in one process, with a demo tenant whose\n"
        "key is printed with a snippet for the official SDK. Everything lives in a temporary directory\n"
        "removed at exit (--data-dir DIR keeps it). Ctrl-C stops it.",
    )
    add_demo_arguments(demo)

    serve = sub.add_parser("serve", help="run the gateway", description="Run the gateway.", epilog=SERVE_EPILOG)
    add_serve_arguments(serve)

    from gateway.cliargs import SIMULATOR_PREFIX
    from gateway.simulator.server import add_arguments as add_simulator_arguments

    simulator = sub.add_parser(
        "simulator",
        help="a Sora-compatible upstream for development, demos and tests",
        description="A simulated upstream: any profile of the provider catalog, each under its own API paths.\n"
        "Every flag also reads SORA_GATEWAY_SIMULATOR_<FLAG>.",
        env_prefix=SIMULATOR_PREFIX,
    )
    add_simulator_arguments(simulator, list(CATALOG.simulator_profiles()), CATALOG.default_profile)

    policies = sub.add_parser("policies", help="policy files", description="Policy files.")
    policies_sub = policies.add_subparsers(dest="policies_command", required=True, metavar="ACTION")
    check = policies_sub.add_parser(
        "check",
        help="validate tenant and content-policy files",
        description="Validate a policies directory the way the gateway loads it; exit 1 with file:line: reason.",
    )
    check.add_argument(
        "dir", nargs="?", default="policies", metavar="DIR", help="policies directory (default ./policies)"
    )

    from gateway.client.commands import add_client_commands

    add_client_commands(sub)

    keys = sub.add_parser("keys", help="tenant keys", description="Tenant keys.")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    hash_cmd = keys_sub.add_parser(
        "hash",
        help="print the sha256: form of a key for a tenant file",
        description="Print the sha256: form of KEY for api_keys in policies/tenants/<team>.yaml.",
    )
    hash_cmd.add_argument("key", type=_key, metavar="KEY", help="the key the team will send as its bearer token")
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
    if args.command in ("generate", "status", "download"):
        from gateway.client.commands import run_client

        return run_client(args)
    if args.command == "simulator":
        from gateway.simulator.server import run_from_args

        return run_from_args(args, CATALOG.simulator_profiles())
    if args.command == "demo":
        from gateway.demo import run_demo

        return run_demo(args)
    from gateway.server import run_serve

    return run_serve(args)


if __name__ == "__main__":
    sys.exit(main())
