"""Typed settings: defaults < ``--config`` file < environment < flags, validated at start.

* The config file is YAML whose keys are the settings below (the long flag names with ``_``;
  ``upstream_url`` may stand for ``upstream``). Keys are the operator's; the keys the gateway calls
  with (``upstream_api_key``, ``admin_key``) and ``replica_id`` are refused there: they come only from
  the environment.
* Every setting reads ``SORA_GATEWAY_<SETTING>`` (``SORA_GATEWAY_UPSTREAM_URL`` stands for
  ``SORA_GATEWAY_UPSTREAM``; ``OPENAI_API_KEY`` for ``SORA_GATEWAY_UPSTREAM_API_KEY``).
* A problem names where the value came from: ``file:line``, the variable or the flag, and stops
  the process before it binds a port.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from gateway.cliargs import env_name, env_value
from gateway.config_enhance import chat_key_problem
from gateway.config_upstreams import UpstreamsError
from gateway.config_upstreams import from_node as upstreams_from_node
from gateway.config_upstreams import from_value as upstreams_from_value
from gateway.config_upstreams import model_map as read_model_map
from gateway.config_urls import content_problem, http_problem, redis_problem, store_problem
from gateway.core.styles import StyleBook, StyleError
from gateway.providers import PROFILES
from gateway.webhooks.urls import parse_nets
from gateway.yamlfile import YamlError, line_of, top_mapping, value_of

DEFAULT_UPSTREAM = "https://api.openai.com/v1"
DEFAULT_STORE = "sqlite:///./.sora-gateway/gateway.db"


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    policies: str = "policies"
    upstream: str = DEFAULT_UPSTREAM
    upstream_api_key: str = field(default="", repr=False)
    upstream_profile: str | None = None  # pin; None = detect
    store: str = DEFAULT_STORE
    workers: int = 1
    data_dir: str = ".sora-gateway"
    content_store: str | None = None  # file://DIR (default <data_dir>/content) or s3://bucket[/prefix]
    content_presign_s: float = 0.0  # s3: redirect downloads to a presigned URL valid this long (0: stream through)
    allow_anonymous: bool = False
    admin_key: str | None = field(default=None, repr=False)
    log_level: str = "info"
    log_format: str = "json"
    log_poll_sample: float = 1.0  # fraction of successful client polls given a ``request`` log line (1: all)
    max_body_bytes: int = 64 * 1024 * 1024
    max_prompt_chars: int = 32000
    max_seconds: int = 120  # longest video a request may ask for
    allow_model_upgrade: bool = False  # a size only a bigger model has may switch to that model (reported)
    webm_enabled: bool = True  # output_format: webm is transcoded (VP9); off: a 400
    styles_file: str | None = None  # style presets; default <policies>/styles.yaml when present
    poll_min_s: float = 0.25  # never poll one upstream job more often than this
    poll_max_s: float = 15.0
    poll_snapshot_s: float = 0.5  # a poll is answered from memory for this long at most (other replicas' changes)
    upstream_transport: str = "aiohttp"  # httpx's API on aiohttp's transport (cheaper), or httpx's own
    sweep_interval_s: float = 1.0  # in-flight statuses from one upstream listing per interval (0: per-job retrieves)
    status_calls_per_s: float = 2.0  # per-job status retrieves to one upstream per second, at most (0: no budget)
    lease_ttl_s: float = 15.0
    driver_tick_s: float = 0.2
    max_segment_attempts: int = 3
    retention_s: int = 7 * 86400  # how long a finished video stays downloadable
    record_grace_s: float = 86400.0  # a finished job's record is purged this long after it expires (0: never)
    cache_ttl_s: float = 86400.0  # an identical create reuses a finished video for this long
    cache_max_entries: int = 100_000  # bound of the in-process cache index (memory:// store)
    content_max_bytes: int = 20 * 1024**3  # retained content budget; least recently used evicted (0: none)
    content_max_age_s: float = 7 * 86400.0  # evict content unused for this long (0: never)
    # a retained file is sent by the proxy in front (X-Accel-Redirect to this prefix) when it asks for that
    content_accel_redirect: str | None = None
    content_sweep_s: float = 60.0  # how often the retention budget is checked (and soon after each fetch)
    content_min_free_bytes: int = 0  # below this much free space the content store counts as full
    detect_interval_s: float = 300.0  # 0: detect once at start
    quota_backend: str = "auto"  # auto (redis when quota_redis or the store is redis) | memory | redis
    quota_redis: str | None = field(default=None, repr=False)  # defaults to the store URL when it is redis
    quota_fail_mode: str = "closed"  # Redis unreachable: closed (503) | open (per-replica limits)
    policy_reload_s: float = 1.0  # how often policy files are checked for changes (0: never)
    shutdown_grace_s: float = 10.0
    enhance_model: str = "gpt-4o-mini"  # the chat model that rewrites prompts (enhance_prompt: true)
    enhance_url: str | None = None  # an OpenAI-compatible API base for that chat; None: the first upstream's
    enhance_api_key_env: str | None = None  # the environment variable holding enhance_url's key (none: no key)
    enhance_timeout_s: float = 20.0  # a slower enhancement falls back to the original prompt
    enhance_cache_ttl_s: float = 86400.0  # an enhanced prompt is reused for the same original this long
    callback_allow_nets: str = ""  # CIDRs a callback URL may resolve to despite the SSRF guard (e.g. 127.0.0.0/8)
    webhook_timeout_s: float = 10.0  # one delivery attempt's limit (connect + answer)
    webhook_max_attempts: int = 15  # then the delivery is given up (logged, counted as failed)
    webhook_retry_base_s: float = 5.0  # first retry after this, doubling per attempt ...
    webhook_retry_max_s: float = 3600.0  # ... up to this
    upstream_max_concurrent: int = 0  # upstream generations at once; 0: learn the limit from the upstream's 429s
    # several upstreams in order of preference ([{url, api_key_env, profile?}]); None: just ``upstream``
    upstreams: list[dict[str, Any]] | None = None
    # client model name -> provider model, over each profile's default map (an upstreams entry's own wins)
    model_map: dict[str, str] | None = None
    breaker_failures: int = 5  # calls failing in a row (unreachable, 5xx, 429) that open an upstream's breaker
    breaker_open_s: float = 30.0  # an open breaker half-opens (a free trial call) after this long
    public_base_url: str | None = None  # every URL handed out (seed data[0].url); default http://<host>:<port>
    # with public_base_url set, a provider that calls back is polled only this often (callbacks are the follow method)
    callback_safety_poll_s: float = 60.0
    idempotency_ttl_s: float = 86400.0  # an Idempotency-Key replays its answer this long
    upload_max_age_s: float = 3600.0  # an uploaded file no active job uses is deleted after this
    upload_sweep_s: float = 300.0  # how often uploads/ is swept
    header_timeout_s: float = 30.0  # a request's line and headers must arrive within this (else closed)
    body_timeout_s: float = 300.0  # a request body must arrive within this (else 408)
    body_idle_timeout_s: float = 30.0  # ... and never pause longer than this
    max_concurrent_requests: int = 1000  # in flight at once per process; more get 503 server_busy
    max_bodies_per_tenant: int = 64  # request bodies one team (or key-less address) sends at once per process; 429
    body_min_rate_bps: float = 500.0  # a body slower than this after the grace period is cut (408); 0: none
    body_min_rate_grace_s: float = 20.0
    max_connections: int = 2048  # open connections per process; past it a request gets 503 server_busy
    replica_id: str = field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")


SECRETS = ("upstream_api_key", "admin_key")  # environment only; never copied into another variable or a file
NOT_IN_FILE = (*SECRETS, "replica_id")
FILE_ALIASES = {"upstream_url": "upstream", "policies_dir": "policies"}
ENV_ALIASES = {"upstream": ("SORA_GATEWAY_UPSTREAM_URL",), "upstream_api_key": ("OPENAI_API_KEY",)}
_KINDS = {f.name: str(f.type) for f in fields(Settings)}


class Bound(NamedTuple):
    low: float
    inclusive: bool = True  # low itself allowed
    high: float | None = None

    def problem(self, value: float) -> str | None:
        if self.high is not None and not self.low <= value <= self.high:
            return f"must be {self.low:g}-{self.high:g}"
        if value < self.low or (value == self.low and not self.inclusive):
            return f"must be {'at least' if self.inclusive else 'greater than'} {self.low:g}"
        return None


POSITIVE, AT_LEAST_1, NOT_NEGATIVE = Bound(0, inclusive=False), Bound(1), Bound(0)
BOUNDS: dict[str, Bound] = {
    "port": Bound(1, high=65535),
    "workers": AT_LEAST_1,
    "max_body_bytes": AT_LEAST_1,
    "max_prompt_chars": AT_LEAST_1,
    "max_seconds": AT_LEAST_1,
    "poll_min_s": POSITIVE,
    "poll_max_s": POSITIVE,
    "sweep_interval_s": NOT_NEGATIVE,
    "status_calls_per_s": NOT_NEGATIVE,
    "callback_safety_poll_s": POSITIVE,
    "poll_snapshot_s": Bound(0, high=10),
    "log_poll_sample": Bound(0, high=1),
    "lease_ttl_s": POSITIVE,
    "driver_tick_s": POSITIVE,
    "max_segment_attempts": AT_LEAST_1,
    "retention_s": AT_LEAST_1,
    "record_grace_s": NOT_NEGATIVE,
    "cache_ttl_s": NOT_NEGATIVE,
    "cache_max_entries": AT_LEAST_1,
    "content_max_bytes": NOT_NEGATIVE,
    "content_max_age_s": NOT_NEGATIVE,
    "content_sweep_s": POSITIVE,
    "content_presign_s": Bound(0, high=7 * 86400),
    "content_min_free_bytes": NOT_NEGATIVE,
    "detect_interval_s": NOT_NEGATIVE,
    "policy_reload_s": NOT_NEGATIVE,
    "shutdown_grace_s": NOT_NEGATIVE,
    "enhance_timeout_s": POSITIVE,
    "enhance_cache_ttl_s": NOT_NEGATIVE,
    "webhook_timeout_s": POSITIVE,
    "webhook_max_attempts": AT_LEAST_1,
    "webhook_retry_base_s": POSITIVE,
    "webhook_retry_max_s": POSITIVE,
    "upstream_max_concurrent": NOT_NEGATIVE,
    "breaker_failures": AT_LEAST_1,
    "breaker_open_s": POSITIVE,
    "idempotency_ttl_s": POSITIVE,
    "upload_max_age_s": POSITIVE,
    "upload_sweep_s": POSITIVE,
    "header_timeout_s": POSITIVE,
    "body_timeout_s": POSITIVE,
    "body_idle_timeout_s": POSITIVE,
    "max_concurrent_requests": AT_LEAST_1,
    "max_bodies_per_tenant": NOT_NEGATIVE,
    "body_min_rate_bps": NOT_NEGATIVE,
    "body_min_rate_grace_s": NOT_NEGATIVE,
    "max_connections": AT_LEAST_1,
}
CHOICES: dict[str, tuple[str, ...]] = {
    "upstream_profile": tuple(PROFILES),
    "log_level": ("debug", "info", "warning", "error", "critical"),
    "log_format": ("json", "console"),
    "quota_backend": ("auto", "memory", "redis"),
    "quota_fail_mode": ("closed", "open"),
    "upstream_transport": ("aiohttp", "httpx"),
}
URL_CHECKS: dict[str, Callable[[str], str | None]] = {  # each names the accepted forms (gateway/config_urls.py)
    "upstream": http_problem,
    "store": store_problem,
    "quota_redis": redis_problem,
    "content_store": content_problem,
    "public_base_url": lambda url: http_problem(url, "https://videos.example.com"),
    "enhance_url": lambda url: http_problem(url, "https://api.openai.com/v1"),
}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _number(value: Any, kind: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError
    number = float(value)
    if not math.isfinite(number) or (kind == "int" and not number.is_integer()):
        raise ValueError
    return int(number) if kind == "int" else number


def _typed(name: str, value: Any) -> Any:
    """``value`` as the setting's type; raises ``ValueError`` with what was expected."""
    kind = _KINDS[name].split(" |")[0]
    if value is None:
        if "None" in _KINDS[name]:
            return None
        raise ValueError("a value")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if text in TRUE | FALSE:
            return text in TRUE
        raise ValueError("true or false")
    if kind in ("int", "float"):
        try:
            return _number(value, kind)
        except (TypeError, ValueError):
            raise ValueError("an integer" if kind == "int" else "a number") from None
    if isinstance(value, dict | list):
        raise ValueError("a string")
    text = str(value).strip()
    return text.lower() if name == "log_level" else text


def coerce(name: str, value: Any, where: str) -> Any:
    """One setting's value, typed and checked on its own; errors say ``where: name must be ...``."""
    if name in ("upstreams", "model_map"):
        try:
            if value is None:
                return None
            return upstreams_from_value(value) if name == "upstreams" else read_model_map(value, name)
        except UpstreamsError as exc:
            line = f" (line {exc.line} of its value)" if exc.line else ""
            raise ConfigError(f"{where}: {exc.reason}{line}") from None
    try:
        typed = _typed(name, value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {name} must be {exc}, got {value!r}") from None
    if typed is None:
        return None
    problem = None
    if name in BOUNDS:
        problem = BOUNDS[name].problem(typed)
    elif name in CHOICES and typed not in CHOICES[name]:
        problem = f"must be one of {', '.join(CHOICES[name])}"
    elif name in URL_CHECKS and (reason := URL_CHECKS[name](typed)):
        raise ConfigError(f"{where}: {name} {reason}")  # the reason shows the value (a password masked)
    if problem:
        raise ConfigError(f"{where}: {name} {problem}, got {value!r}")
    return typed


def read_file(path: str) -> dict[str, tuple[Any, str]]:
    """A YAML config file as ``{setting: (value, "file:line")}``; any problem is a :class:`ConfigError`."""
    try:
        found = top_mapping(Path(path).read_text(encoding="utf-8"), "the config file to be a mapping of setting: value")
    except YamlError as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}:1: cannot read the config file ({exc.__class__.__name__})") from None
    values: dict[str, tuple[Any, str]] = {}
    for key_text, (key, node) in found.items():
        name = FILE_ALIASES.get(key_text, key_text.replace("-", "_"))
        where = f"{path}:{line_of(key)}"
        if name in NOT_IN_FILE:
            source = f"{env_name(name)} in the environment" if name in SECRETS else "the process"
            raise ConfigError(f"{where}: {key_text!r} cannot be set in a config file; it comes from {source}")
        if name not in _KINDS:
            raise ConfigError(f"{where}: unknown setting {key_text!r}")
        if name in values:
            raise ConfigError(f"{where}: {key_text!r} sets {name!r} again (first at {values[name][1]})")
        if name == "upstreams":  # a list: each entry's problems name their own line
            try:
                values[name] = (upstreams_from_node(node), where)
            except UpstreamsError as exc:
                raise ConfigError(f"{path}:{exc.line or line_of(key)}: {exc.reason}") from None
            continue
        values[name] = (coerce(name, value_of(node), where), where)
    return values


def load_file(path: str) -> dict[str, Any]:
    """A config file's settings (checked as :func:`read_file` checks them)."""
    return {name: value for name, (value, _) in read_file(path).items()}


def _from_env(name: str) -> tuple[str, str] | None:
    """``(value, variable)`` for a setting set in the environment."""
    for var in (env_name(name), *ENV_ALIASES.get(name, ())):
        value = os.environ.get(var)
        if value:
            return value, var
    return None


def build_settings(flags: dict[str, Any]) -> Settings:
    """Merge defaults, the ``--config`` file, the environment and flags (``None`` = not given); validate."""
    settings = Settings()
    origins: dict[str, str] = {}
    config_file = flags.get("config") or env_value("config")
    if config_file:
        if not Path(config_file).is_file():
            raise ConfigError(f"{config_file}:1: config file not found")
        for name, (value, where) in read_file(config_file).items():
            setattr(settings, name, value)
            origins[name] = where
    for name in _KINDS:
        found = _from_env(name)
        if found is not None:
            setattr(settings, name, coerce(name, found[0], found[1]))
            origins[name] = found[1]
    for name, value in flags.items():
        if name in _KINDS and value is not None:
            where = "--" + name.replace("_", "-")
            setattr(settings, name, coerce(name, value, where))
            origins[name] = where
    validate(settings, origins)
    return settings


def apply_secrets_from_env(settings: Settings) -> Settings:
    """The keys from the environment (a worker re-reads them rather than receive them from its parent)."""
    for name in SECRETS:
        found = _from_env(name)
        if found is not None:
            setattr(settings, name, found[0])
    return settings


def public_base_url(settings: Settings) -> str:
    """The gateway's URL as clients reach it: ``public_base_url``, else the address it listens on."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def validate(settings: Settings, origins: dict[str, str] | None = None) -> None:
    """What no single value shows: checks across settings, and the ones that read files."""
    origins = origins or {}

    def where(name: str) -> str:
        return origins.get(name, "--" + name.replace("_", "-"))

    if settings.poll_max_s < settings.poll_min_s:
        raise ConfigError(
            f"{where('poll_max_s')}: poll_max_s ({settings.poll_max_s:g}) must be at least "
            f"poll_min_s ({settings.poll_min_s:g})"
        )
    if settings.quota_backend == "redis" and not (settings.quota_redis or settings.store.startswith("redis")):
        raise ConfigError(
            f"{where('quota_backend')}: quota_backend redis needs quota_redis: redis://host:port/db "
            "(or a redis:// store)"
        )
    redis_quota = settings.quota_backend == "redis" or (
        settings.quota_backend == "auto" and bool(settings.quota_redis or settings.store.startswith("redis"))
    )
    if settings.workers > 1 and not redis_quota:
        # in-process counters: each worker would count alone and overwrite the others' persisted totals
        raise ConfigError(
            f"{where('workers')}: --workers {settings.workers} needs the Redis quota backend: with in-process "
            "quota counters every worker counts alone and overwrites the others' saved totals; use "
            "--store redis://host:port/db or set quota_redis, or run --workers 1 and scale with replicas"
        )
    try:
        parse_nets(settings.callback_allow_nets)
    except ValueError as exc:
        raise ConfigError(f"{where('callback_allow_nets')}: callback_allow_nets: {exc}") from None
    if settings.styles_file:
        try:
            StyleBook(settings.styles_file, required=True)
        except StyleError as exc:
            raise ConfigError(str(exc)) from None
    enhance_problem = chat_key_problem(settings.enhance_url, settings.enhance_api_key_env)
    if enhance_problem:
        raise ConfigError(f"{where('enhance_api_key_env')}: {enhance_problem}")
    if not settings.upstream_api_key and not settings.upstreams:
        raise ConfigError(
            "no upstream API key: set SORA_GATEWAY_UPSTREAM_API_KEY (or OPENAI_API_KEY) to the key the gateway "
            "uses to call the upstream"
        )
