"""The command line and the settings: what an operator types, and what they are told when it is wrong.

Mostly in-process (``gateway.cli.main``); one test runs the installed ``sora-gateway`` script.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.config import ConfigError, Settings, build_settings

KEY_ENV = {"SORA_GATEWAY_UPSTREAM_API_KEY": "sk-upstream-test"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SORA_GATEWAY_* from the outside world leaks into a test."""
    for name in list(os.environ):
        if name.startswith("SORA_GATEWAY_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    yield


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``sora-gateway argv`` in-process: (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_process(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``python -m gateway argv`` in a child process, for commands that would serve if the check failed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SORA_GATEWAY_") and k != "OPENAI_API_KEY"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "gateway", *argv], env={**clean, **env}, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"`sora-gateway {' '.join(argv)}` started serving instead of refusing") from None
    return result.returncode, result.stderr


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return str(path)


# -- the installed script -------------------------------------------------------------------------


def test_installed_console_script_runs_from_anywhere(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "sora-gateway"
    assert script.is_file(), f"no console script next to {sys.executable}: pip install -e . first"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for argv in (["--help"], ["serve", "--help"], ["--version"]):
        result = subprocess.run([str(script), *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert "sora-gateway" in result.stdout
    keys = subprocess.run([str(script), "keys", "hash", "k"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert keys.stdout.strip() == "sha256:" + hashlib.sha256(b"k").hexdigest()


# -- settings from the environment ----------------------------------------------------------------

STRING_VALUES = {
    "host": "0.0.0.0",
    "policies": "/srv/policies",
    "upstream": "http://upstream.example/v1",
    "upstream_api_key": "sk-from-env",
    "upstream_profile": "azure-sora-1",
    "store": "redis://127.0.0.1:6379/3",
    "data_dir": "/srv/data",
    "content_store": "s3://videos-bucket/gateway",
    "admin_key": "sk-admin-from-env",
    "log_level": "debug",
    "log_format": "console",
    "quota_backend": "redis",
    "quota_redis": "redis://127.0.0.1:6379/4",
    "quota_fail_mode": "open",
    "replica_id": "replica-from-env",
    "enhance_model": "gpt-4.1-mini",
    "enhance_url": "https://chat.example/v1",
    "enhance_api_key_env": "SORA_GATEWAY_UPSTREAM_API_KEY",  # set by the same test (it must be, at start)
    "public_base_url": "https://videos.example.com",
    "callback_allow_nets": "127.0.0.0/8,10.20.0.0/16",
    "upstream_transport": "httpx",
    "content_accel_redirect": "/_sora_content/",
}
FRACTIONS = {"log_poll_sample"}  # 0..1: default + 1.5 would be out of range


def valid_env_value(field: dataclasses.Field[Any], tmp_path: Path) -> tuple[str, Any]:
    """A valid value for ``field`` that differs from its default: (as the environment says it, as typed)."""
    default = Settings().__dict__[field.name]
    kind = str(field.type)
    if field.name == "upstreams":  # JSON (or YAML flow) text; its key variable is set by this test too
        entry = {"url": "http://second.example/v1", "api_key_env": "SORA_GATEWAY_UPSTREAM_API_KEY"}
        return json.dumps([entry]), [entry]
    if field.name == "model_map":  # JSON (or YAML flow) text: client model -> provider model
        return json.dumps({"sora-2": "sora-2-pro"}), {"sora-2": "sora-2-pro"}
    if field.name == "styles_file":
        path = tmp_path / "styles.yaml"
        path.write_text("sunset: warm evening light\n")
        return str(path), str(path)
    if kind == "bool":
        return str(not default).lower(), not default
    if kind == "int":
        return str(default + 1), default + 1
    if kind == "float" and field.name in FRACTIONS:
        return "0.25", 0.25
    if kind == "float":
        return str(default + 1.5), default + 1.5
    assert field.name in STRING_VALUES, f"add a valid environment value for the new setting {field.name!r}"
    return STRING_VALUES[field.name], STRING_VALUES[field.name]


def test_every_setting_reads_its_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {}
    for field in dataclasses.fields(Settings):
        text, typed = valid_env_value(field, tmp_path)
        monkeypatch.setenv("SORA_GATEWAY_" + field.name.upper(), text)
        expected[field.name] = typed
    settings = build_settings({})
    assert {name: getattr(settings, name) for name in expected} == expected


def test_precedence_is_defaults_file_environment_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(tmp_path, "cache_ttl_s: 10\nretention_s: 20\nport: 9001\nallow_anonymous: true\n")
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    monkeypatch.setenv("SORA_GATEWAY_RETENTION_S", "30")
    monkeypatch.setenv("SORA_GATEWAY_PORT", "9002")
    settings = build_settings({"config": path, "port": 9003})
    assert (settings.cache_ttl_s, settings.retention_s, settings.port) == (10, 30, 9003)
    assert settings.allow_anonymous is True and settings.lease_ttl_s == Settings().lease_ttl_s
    # a true in the file can be turned off, by the environment and by a flag
    monkeypatch.setenv("SORA_GATEWAY_ALLOW_ANONYMOUS", "false")
    assert build_settings({"config": path}).allow_anonymous is False
    monkeypatch.delenv("SORA_GATEWAY_ALLOW_ANONYMOUS")
    assert build_settings({"config": path, "allow_anonymous": False}).allow_anonymous is False  # --no-allow-anonymous


def test_config_file_comes_from_the_environment_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    monkeypatch.setenv("SORA_GATEWAY_CONFIG", config(tmp_path, "lease_ttl_s: 7\n"))
    assert build_settings({}).lease_ttl_s == 7


def test_upstream_url_is_an_alias_of_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_URL", "http://via-url.example/v1")
    assert build_settings({}).upstream == "http://via-url.example/v1"
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM", "http://via-upstream.example/v1")  # the flag's own name wins
    assert build_settings({}).upstream == "http://via-upstream.example/v1"


# -- what a mistake looks like --------------------------------------------------------------------

BAD_VALUES = [
    ("poll_min_s: -5", "poll_min_s must be greater than 0"),
    ("lease_ttl_s: 0", "lease_ttl_s must be greater than 0"),
    ("status_calls_per_s: -2", "status_calls_per_s must be at least 0"),
    ("max_body_bytes: -1", "max_body_bytes must be at least 1"),
    ("allow_anonymous: maybe", "allow_anonymous must be true or false"),
    ("port: 70000", "port must be 1-65535"),
    ("workers: 1.5", "workers must be an integer"),
    ("poll_min_s: soon", "poll_min_s must be a number"),
    ("log_format: xml", "log_format must be one of json, console"),
    ("store: postgres://db", "store must be memory://"),
    ("content_store: gs://videos", "content_store must be file://DIR or s3://bucket[/prefix]"),
    ("content_store: s3://ab", "content_store needs a bucket name of 3-63 characters"),
    ("content_presign_s: -1", "content_presign_s must be 0-604800"),
    ("upstream_profile: openai-1999", "upstream_profile must be one of"),
    ("host: [a, b]", "host must be a string"),
    ("retention: 5", "unknown setting 'retention'"),
    ("port: 80: 80", "not valid YAML"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_VALUES)
def test_a_bad_value_names_file_and_line(
    line: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    path = config(tmp_path, f"# gateway settings\n\n{line}\n")
    with pytest.raises(ConfigError) as err:
        build_settings({"config": path})
    assert str(err.value).startswith(f"{path}:3:") and reason in str(err.value)


def test_cross_setting_problems_name_where_the_value_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    path = config(tmp_path, "poll_min_s: 5\npoll_max_s: 2\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: poll_max_s \(2\) must be at least poll_min_s \(5\)"):
        build_settings({"config": path})


@pytest.mark.parametrize("name", ["upstream_api_key", "admin_key", "replica_id"])
def test_keys_and_internal_fields_are_refused_in_a_config_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    path = config(tmp_path, f"port: 8080\n{name}: sk-in-a-file\n")
    with pytest.raises(ConfigError) as err:
        build_settings({"config": path})
    assert str(err.value).startswith(f"{path}:2: '{name}' cannot be set in a config file")
    assert "sk-in-a-file" not in str(err.value)


def test_duplicate_keys_are_reported_with_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config(tmp_path, "port: 8080\nstore: memory://\nport: 9090\n")
    code, err = run_process(["serve", "--config", path], KEY_ENV)
    assert code == 2 and f"sora-gateway serve: error: {path}:3: duplicate key 'port' (first at line 1)" in err
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "k")
    # the same key twice under two names
    path = config(tmp_path, "upstream: http://a.example/v1\nupstream_url: http://b.example/v1\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: 'upstream_url' sets 'upstream' again \(first at {path}:1\)"):
        build_settings({"config": path})
    # a tenant file
    tenants = tmp_path / "policies" / "tenants"
    tenants.mkdir(parents=True)
    digest = "sha256:" + "0" * 64
    (tenants / "acme.yaml").write_text(f'tenant: acme\napi_keys: ["{digest}"]\ntenant: globex\n')
    code, _, err = run(["policies", "check", str(tmp_path / "policies")], capsys)
    assert code == 1 and f"{tenants / 'acme.yaml'}:3: duplicate key 'tenant' (first at line 1)" in err
    # a nested mapping of a tenant file
    (tenants / "acme.yaml").write_text(
        f'tenant: acme\napi_keys: ["{digest}"]\nquotas:\n  concurrent_jobs: 2\n  concurrent_jobs: 9\n'
    )
    code, _, err = run(["policies", "check", str(tmp_path / "policies")], capsys)
    assert code == 1 and f"{tenants / 'acme.yaml'}:5: duplicate key 'concurrent_jobs' (first at line 4)" in err
    # a styles file
    styles = tmp_path / "styles.yaml"
    styles.write_text("dusk: blue hour\ndusk: golden hour\n")
    with pytest.raises(ConfigError, match=rf"^{styles}:2: duplicate key 'dusk' \(first at line 1\)"):
        build_settings({"config": config(tmp_path, f"styles_file: {styles}\n")})


@pytest.mark.parametrize(
    ("env", "argv", "variable"),
    [
        ({"SORA_GATEWAY_PORT": "abc"}, ["serve"], "SORA_GATEWAY_PORT"),
        ({"SORA_GATEWAY_PORT": "abc"}, ["demo"], "SORA_GATEWAY_PORT"),
        ({"SORA_GATEWAY_TIME_SCALE": "fast"}, ["demo"], "SORA_GATEWAY_TIME_SCALE"),
        ({"SORA_GATEWAY_PROFILE": "openai-1999"}, ["demo"], "SORA_GATEWAY_PROFILE"),
        ({"SORA_GATEWAY_SIMULATOR_PORT": "abc"}, ["simulator"], "SORA_GATEWAY_SIMULATOR_PORT"),
        ({"SORA_GATEWAY_SIMULATOR_RPM": "many"}, ["simulator"], "SORA_GATEWAY_SIMULATOR_RPM"),
        ({"SORA_GATEWAY_CACHE_TTL_S": "-1"}, ["serve"], "SORA_GATEWAY_CACHE_TTL_S"),
    ],
)
def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(
    env: dict[str, str], argv: list[str], variable: str
) -> None:
    code, err = run_process(argv, {**KEY_ENV, **env})
    assert code == 2 and f"sora-gateway {argv[0]}: error:" in err and variable in err, err
    assert "Traceback" not in err


def test_a_bad_environment_value_only_matters_to_the_command_that_reads_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_GATEWAY_PORT", "abc")
    code, out, _ = run(["keys", "hash", "sk-abc"], capsys)
    assert code == 0 and out.strip() == "sha256:" + hashlib.sha256(b"sk-abc").hexdigest()
    code, _, _ = run(["policies", "check", str(Path(__file__).resolve().parents[1] / "policies")], capsys)
    assert code == 0


def test_demo_on_a_busy_port_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run_process(["demo", "--port", str(port)], {})
    assert code == 2 and f"port {port} on 127.0.0.1 is in use; try --port" in err and "Traceback" not in err


def test_policies_check_of_a_file_asks_for_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = tmp_path / "policies" / "tenants"
    tenants.mkdir(parents=True)
    (tenants / "acme.yaml").write_text("tenant: acme\n")
    code, _, err = run(["policies", "check", str(tenants / "acme.yaml")], capsys)
    assert code == 2 and "is a file; pass the policies directory" in err
    assert f"sora-gateway policies check {tmp_path / 'policies'}" in err


@pytest.mark.parametrize("key", ["", "   "])
def test_keys_hash_refuses_an_empty_key(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["keys", "hash", key], capsys)
    assert code == 2 and out == "" and "sora-gateway keys hash: error:" in err and "empty" in err


def test_help_shows_the_readme_metavars_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["serve", "--help"], capsys)
    assert code == 0
    for shown in ("--config FILE", "--policies DIR", "--store URL", "--upstream URL", "--workers N", "--data-dir DIR"):
        assert shown in out
    assert "None" not in out and "{json,console}" in out and "SORA_GATEWAY_UPSTREAM_API_KEY" in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("sora-gateway ")
    code, out, _ = run(["demo", "--help"], capsys)
    assert code == 0 and "--time-scale X" in out and "openai-2026-03" in out
