"""A bad URL in a flag is a usage error naming the flag and the forms it takes, never a traceback (issue 22, item 1).

``serve --store sqlite://gw.db`` (two slashes) used to end in a ``ValueError`` traceback from the app
factory; so did an unusable port in ``--upstream`` and a store path that cannot be created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, build_settings
from tests.procs import free_port

STORE_FORMS = "memory://, sqlite:///relative/path.db, sqlite:////absolute/path.db or redis://host:port/db"


def serve(*flags: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``sora-gateway serve FLAGS`` in a child: it must refuse before serving (the timeout says it did not)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_GATEWAY_") and k != "OPENAI_API_KEY"}
    env["SORA_GATEWAY_UPSTREAM_API_KEY"] = "sk-upstream-test"
    argv = ["serve", "--port", str(free_port()), "--allow-anonymous", "--policies", str(cwd / "none"), *flags]
    return subprocess.run(
        [sys.executable, "-m", "gateway", *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_a_two_slash_sqlite_store_is_a_usage_error_with_the_forms(tmp_path: Path) -> None:
    done = serve("--store", "sqlite://gw.db", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("sora-gateway serve: error: --store: store must be sqlite:/// and a path"), line
    assert "'sqlite://gw.db'" in line and "sqlite:///gw.db" in line and "sqlite:////absolute/path/gw.db" in line
    assert not list(tmp_path.glob("**/*.db"))  # nothing was created


@pytest.mark.parametrize(
    ("flags", "start"),
    [
        (("--store", "sqlite:///{file}/gw.db"), "sora-gateway serve: error: --store: cannot open sqlite:///"),
        (("--store", "memory://", "--content-store", "file://{file}/content"), "error: --content-store: cannot use"),
        (("--store", "memory://", "--data-dir", "{file}/data"), "sora-gateway serve: error: --data-dir: cannot use"),
        (("--upstream", "http://127.0.0.1:port/v1"), "sora-gateway serve: error: --upstream: upstream must be"),
        (("--store", "redis://127.0.0.1:6379/zero"), "sora-gateway serve: error: --store: store must be redis://"),
    ],
    ids=["store-under-a-file", "content-under-a-file", "data-dir-under-a-file", "upstream-port", "redis-db"],
)
def test_a_url_that_cannot_be_used_names_its_flag(flags: tuple[str, ...], start: str, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    done = serve(*(f.replace("{file}", str(a_file)) for f in flags), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert start in done.stderr.strip().splitlines()[-1], done.stderr


BAD = [
    ("store", "sqlite:///", "must name a file: sqlite:///relative/path.db or sqlite:////absolute/path.db"),
    ("store", "sqlite:gw.db", f"must be {STORE_FORMS}"),
    ("store", "memory://x", "must be just memory://"),
    ("store", "redis://", "a host is missing"),
    ("store", "redis://cache:six/0", "the port is not a number: 'six'"),
    ("store", "redis://h:6379/0?bogus=1", "unknown option(s) bogus"),
    ("store", "redis://h:6379/0?prefix=a b", "braces or spaces"),
    ("upstream", "http:///v1", "must be an http(s) URL with a host"),
    ("upstream", "api.openai.com/v1", "must be an http(s) URL such as https://api.openai.com/v1"),
    ("content_store", "file:/var/videos", "must be file://DIR or s3://bucket[/prefix]"),
    ("content_store", "file://", "needs a directory: file:///absolute/dir or file://relative/dir"),
]


@pytest.mark.parametrize(("name", "value", "reason"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD])
def test_every_bad_url_is_refused_before_start_with_the_accepted_forms(
    name: str, value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    with pytest.raises(ConfigError) as refused:
        build_settings({name: value})
    flag = "--" + name.replace("_", "-")
    assert str(refused.value).startswith(f"{flag}: {name} "), refused.value
    assert reason in str(refused.value), refused.value


def test_a_redis_password_is_never_repeated() -> None:
    from gateway.config_urls import store_problem

    reason = store_problem("redis://:hunter2-secret@cache:6379/db")
    assert reason and "hunter2" not in reason and "redis://***@cache:6379/db" in reason


def test_good_urls_pass() -> None:
    from gateway.config_urls import content_problem, http_problem, redis_problem, store_problem

    for url in ("memory://", "sqlite:///gw.db", "sqlite:////var/lib/gw.db", "redis://h:6379/0?prefix=x", "rediss://h"):
        assert store_problem(url) is None, url
    assert redis_problem("redis://:pw@h:6379/2") is None
    assert content_problem("file://content") is None and content_problem("s3://videos/prefix") is None
    assert http_problem("http://[::1]:8080/v1") is None and http_problem("https://api.openai.com/v1") is None


def test_the_client_refuses_a_base_url_without_a_scheme(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = "sk-test"
    by_flag = subprocess.run(
        [sys.executable, "-m", "gateway", "status", "video_x", "--base-url", "localhost:8080/v1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert by_flag.returncode == 2 and "Traceback" not in by_flag.stderr
    assert "sora-gateway status: error: argument --base-url: must be an http(s) URL" in by_flag.stderr
    by_env = subprocess.run(
        [sys.executable, "-m", "gateway", "status", "video_x"],
        env={**env, "OPENAI_BASE_URL": "127.0.0.1:8080"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert by_env.returncode == 2 and "Traceback" not in by_env.stderr
    assert "sora-gateway status: error: OPENAI_BASE_URL must be an http(s) URL" in by_env.stderr
