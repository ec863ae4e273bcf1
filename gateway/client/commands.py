"""``sora-gateway generate``, ``status`` and ``download``: argparse wiring and what each one does.

Exit codes: 0 done; 1 the API refused or the video failed (the API's message is printed);
2 a usage problem (no key); 130 interrupted (the job keeps running; the resume command is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

from gateway import invocation
from gateway.client.api import (
    DEFAULT_BASE_URL,
    VARIANT_SUFFIX,
    ClientError,
    Connection,
    Video,
    base_url_problem,
)
from gateway.client.progress import stderr_console, wait_for

INTERRUPTED = 130
DEFAULT_TIMEOUT_S = 60.0


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        type=_base_url,
        metavar="URL",
        help="the gateway's API base (default: OPENAI_BASE_URL, else http://127.0.0.1:8080/v1)",
    )
    parser.add_argument("--api-key", metavar="KEY", help="your team's key (default: OPENAI_API_KEY)")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="wait this long for an answer (default 60)",
    )


def _base_url(text: str) -> str:
    problem = base_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_client_commands(sub: Any) -> None:
    """Add ``generate``, ``status`` and ``download`` to the top-level subparsers."""
    gen = sub.add_parser(
        "generate",
        help="make a video and download it, with a progress bar",
        description="Create a video through a gateway, wait with a progress bar on stderr, download it.\n"
        "Any --seconds and --size are accepted: the gateway adapts them and the summary says how.\n"
        "Ctrl-C leaves the video rendering and prints the command that picks it up again.",
    )
    gen.add_argument("prompt", metavar="PROMPT")
    gen.add_argument("--seconds", help="length in seconds (any whole number the gateway allows, e.g. 30)")
    gen.add_argument("--size", help="WIDTHxHEIGHT or 480p/720p/1080p (mapped to the nearest supported size)")
    gen.add_argument("--model", help="sora-2 (default) or sora-2-pro")
    gen.add_argument("--style", help="a style preset (cinematic, animation, documentary, ...)")
    gen.add_argument("--negative-prompt", metavar="TEXT", help="what the video should avoid")
    gen.add_argument("-o", "--output", metavar="FILE", help="where to write the MP4 (default ./<video id>.mp4)")
    gen.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="reuse the key of an earlier create (printed when it could not be confirmed): "
        "the gateway answers with that create's video instead of making (and charging) another",
    )
    add_connection_arguments(gen)

    status = sub.add_parser("status", help="show a video's status", description="Show a video's status.")
    status.add_argument("id", metavar="ID", help="the video id (video_...)")
    status.add_argument("--json", action="store_true", help="print the video object as JSON")
    add_connection_arguments(status)

    dl = sub.add_parser(
        "download",
        help="wait for a video and download it",
        description="Wait for a video (with a progress bar) and download it.",
    )
    dl.add_argument("id", metavar="ID", help="the video id (video_...)")
    dl.add_argument("-o", "--output", metavar="FILE", help="where to write it (default ./<video id>.<ext>)")
    dl.add_argument("--variant", choices=list(VARIANT_SUFFIX), default="video", help="(default video)")
    add_connection_arguments(dl)


def summary(video: Video, path: Path | None = None, size: int | None = None) -> str:
    """One line: id, status, seconds, size, model, cost, what was adapted, where it was written."""
    d = video.data
    parts = [video.id, video.status]
    if d.get("seconds") is not None:
        parts.append(f"{d['seconds']}s")
    for key in ("size", "model"):
        if d.get(key):
            parts.append(str(d[key]))
    cost = d.get("cost_usd")
    if isinstance(cost, int | float):
        parts.append(f"${cost:.2f}")
    line = " ".join(parts)
    line += "; adapted: " + ("; ".join(video.adapted) if video.adapted else "nothing")
    if video.cache and video.cache != "miss":
        line += f"; cache: {video.cache}"
    if path is not None:
        line += f"; wrote {path} ({size or 0} bytes)"
    return line


def _resume_command(args: argparse.Namespace, video_id: str) -> str:
    words = [*invocation.command_words(), "download", video_id]
    if getattr(args, "output", None):
        words += ["-o", args.output]
    if args.base_url:
        words += ["--base-url", args.base_url]
    return shlex.join(words)  # never the key: it comes from the same --api-key / OPENAI_API_KEY as before


def _retry_command(args: argparse.Namespace, key: str) -> str:
    """The same ``generate`` with ``--idempotency-key``: the gateway answers with the first create's video."""
    words = [*invocation.command_words(), "generate", args.prompt]
    for flag, value in (
        ("--seconds", args.seconds),
        ("--size", args.size),
        ("--model", args.model),
        ("--style", args.style),
        ("--negative-prompt", args.negative_prompt),
        ("-o", args.output),
        ("--base-url", args.base_url),
        ("--timeout", None if args.timeout == DEFAULT_TIMEOUT_S else f"{args.timeout:g}"),
    ):
        if value:
            words += [flag, value]
    return shlex.join([*words, "--idempotency-key", key])  # never the API key


def _not_running(conn: Connection, args: argparse.Namespace) -> str:
    """The hint for a gateway that took no connection: where the URL came from, and what sets it."""
    source = (
        "--base-url" if args.base_url else "OPENAI_BASE_URL" if os.environ.get("OPENAI_BASE_URL") else "the default"
    )
    return (
        f"is the gateway running at {conn.base_url} (from {source})? check --base-url / OPENAI_BASE_URL; "
        f"`{invocation.command()} demo` runs one at {DEFAULT_BASE_URL}"
    )


def _wait_and_download(conn: Connection, args: argparse.Namespace, video: Video, err: Console, variant: str) -> int:
    cache = video.cache  # the create's outcome (hit, coalesced, ...): polls do not repeat it
    try:
        video = wait_for(video, conn.retrieve, err)
        video.cache = video.cache or cache
        if video.status == "failed":
            err.print(f"sora-gateway {args.command}: error: {video.id} failed: {video.error_message}", highlight=False)
            return 1
        path = Path(args.output or f"{video.id}{VARIANT_SUFFIX[variant]}")
        size = conn.download(video.id, path, variant)
    except KeyboardInterrupt:
        err.print(f"\ninterrupted: {video.id} keeps rendering on the gateway; resume with:", highlight=False)
        err.print(f"  {_resume_command(args, video.id)}", highlight=False, soft_wrap=True)
        return INTERRUPTED
    except ClientError as exc:
        if not exc.transport:
            raise
        err.print(f"sora-gateway {args.command}: error: {exc.message}", highlight=False)
        if exc.nothing_sent:
            err.print(_not_running(conn, args), highlight=False, soft_wrap=True)
        err.print(f"{video.id} is on the gateway; once it answers again, pick it up with:", highlight=False)
        err.print(f"  {_resume_command(args, video.id)}", highlight=False, soft_wrap=True)
        return 1
    print(summary(video, path, size), flush=True)
    return 0


def run_client(args: argparse.Namespace) -> int:
    err = stderr_console()
    prog = f"sora-gateway {args.command}"
    try:
        conn = Connection.resolve(args.base_url, args.api_key, timeout=args.timeout)
    except ClientError as exc:
        err.print(f"{prog}: error: {exc.message}", highlight=False)
        return 2
    key: str | None = None
    try:
        if args.command == "generate":
            fields = {
                "prompt": args.prompt,
                "seconds": args.seconds,
                "size": args.size,
                "model": args.model,
                "style_preset": args.style,
                "negative_prompt": args.negative_prompt,
            }
            key = args.idempotency_key or str(uuid.uuid4())
            try:
                video = conn.create(fields, key)
            except ClientError as exc:
                if not exc.transport:
                    raise
                err.print(f"{prog}: error: {exc.message}", highlight=False)
                if exc.nothing_sent:  # no connection at all: no video was made, nothing to retry with a key
                    err.print("nothing was sent: no video was made and nothing was charged", highlight=False)
                    err.print(_not_running(conn, args), highlight=False, soft_wrap=True)
                    return 1
                err.print(
                    f"the gateway may have made the video (Idempotency-Key {key}); retry with the same key, "
                    "which answers with that video instead of paying for another:",
                    highlight=False,
                )
                err.print(f"  {_retry_command(args, key)}", highlight=False, soft_wrap=True)
                return 1
            err.print(f"created {video.id}" + (f" (adapted: {'; '.join(video.adapted)})" if video.adapted else ""))
            return _wait_and_download(conn, args, video, err, "video")
        if args.command == "download":
            video = conn.retrieve(args.id)
            return _wait_and_download(conn, args, video, err, args.variant)
        video = conn.retrieve(args.id)
        if args.json:
            print(json.dumps(video.data, indent=2))
        else:
            line = summary(video)
            if video.status not in ("completed", "failed"):
                line = line.replace(video.status, f"{video.status} {video.progress}%", 1)
            print(line)
        if video.status == "failed":
            err.print(f"{prog}: error: {video.error_message}", highlight=False)
            return 1
        return 0
    except ClientError as exc:
        err.print(f"{prog}: error: {exc.message}", highlight=False)
        if exc.nothing_sent:
            err.print(_not_running(conn, args), highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:  # before the gateway answered a create: it may or may not have the video
        err.print("\ninterrupted before the gateway answered; GET /v1/videos lists what it has", highlight=False)
        if args.command == "generate" and key:
            err.print("or retry with the same key (no second video, no second charge):", highlight=False)
            err.print(f"  {_retry_command(args, key)}", highlight=False, soft_wrap=True)
        return INTERRUPTED
    finally:
        conn.close()
