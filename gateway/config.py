"""Typed settings: defaults < config file < environment < flags, validated at start.

A config file is YAML whose keys are the long flag names with ``_`` for ``-``
(``upstream_url`` may be written ``upstream``). Problems are reported as
``file:line: reason`` and stop the process before it binds a port.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from gateway.core.capabilities import PROFILES
from gateway.core.styles import StyleBook, StyleError

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
    allow_anonymous: bool = False
    admin_key: str | None = field(default=None, repr=False)
    log_level: str = "info"
    log_format: str = "json"
    max_body_bytes: int = 64 * 1024 * 1024
    max_prompt_chars: int = 32000
    max_seconds: int = 120  # longest video a request may ask for
    allow_model_upgrade: bool = False  # a size only a bigger model has may switch to that model (reported)
    webm_enabled: bool = True  # output_format: webm is transcoded (VP9); off: a 400
    styles_file: str | None = None  # style presets; default <policies>/styles.yaml when present
    poll_min_s: float = 0.25  # never poll one upstream job more often than this
    poll_max_s: float = 15.0
    lease_ttl_s: float = 15.0
    driver_tick_s: float = 0.2
    max_segment_attempts: int = 3
    retention_s: int = 7 * 86400  # how long a finished video stays downloadable
    cache_ttl_s: float = 86400.0  # an identical create reuses a finished video for this long
    cache_max_entries: int = 100_000  # bound of the in-process cache index (memory:// store)
    content_max_bytes: int = 20 * 1024**3  # retained content budget; least recently used evicted (0: none)
    content_max_age_s: float = 7 * 86400.0  # evict content unused for this long (0: never)
    content_sweep_s: float = 60.0  # how often the retention budget is checked (and soon after each fetch)
    detect_interval_s: float = 300.0
    quota_backend: str = "auto"  # auto (redis when quota_redis or the store is redis) | memory | redis
    quota_redis: str | None = field(default=None, repr=False)  # defaults to the store URL when it is redis
    quota_fail_mode: str = "closed"  # Redis unreachable: closed (503) | open (per-replica limits)
    policy_reload_s: float = 1.0  # how often policy files are checked for changes (0: never)
    shutdown_grace_s: float = 10.0
    replica_id: str = field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")

    def redacted(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("upstream_api_key", "admin_key"):
            data[secret] = "***" if data[secret] else None
        return data


_ALIASES = {"upstream_url": "upstream", "policies_dir": "policies"}
_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = str(_TYPES[name])
    try:
        if "bool" in kind:
            if isinstance(value, str):
                return value.strip().lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} must be a {kind.split()[0]}, got {value!r}") from None
    return value if value is None else str(value)


def load_file(path: str) -> dict[str, Any]:
    """Read a YAML config file, naming the line of each problem."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{path}:{(mark.line + 1) if mark else 1}: not valid YAML") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:1: the config file must be a mapping of setting: value")
    values: dict[str, Any] = {}
    for key, node in root.value:
        name = _ALIASES.get(str(key.value), str(key.value).replace("-", "_"))
        where = f"{path}:{key.start_mark.line + 1}"
        if name not in _TYPES:
            raise ConfigError(f"{where}: unknown setting {key.value!r}")
        values[name] = _coerce(name, yaml.safe_load(yaml.serialize(node)), where)
    return values


def build_settings(flags: dict[str, Any]) -> Settings:
    """Merge defaults, ``--config`` file, env-backed flags; validate."""
    settings = Settings()
    config_file = flags.get("config")
    if config_file:
        if not Path(config_file).is_file():
            raise ConfigError(f"{config_file}:1: config file not found")
        for name, value in load_file(config_file).items():
            setattr(settings, name, value)
    for name, value in flags.items():
        if name in _TYPES and value is not None and not (isinstance(value, bool) and not value):
            setattr(settings, name, _coerce(name, value, f"--{name.replace('_', '-')}"))
    key = os.environ.get("SORA_GATEWAY_UPSTREAM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if key:
        settings.upstream_api_key = key
    admin = os.environ.get("SORA_GATEWAY_ADMIN_KEY")
    if admin:
        settings.admin_key = admin
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if not settings.upstream.startswith(("http://", "https://")):
        raise ConfigError(f"--upstream must be an http(s) URL, got {settings.upstream!r}")
    if not settings.store.startswith(("memory://", "sqlite://", "redis://", "rediss://")):
        raise ConfigError(f"--store must be memory://, sqlite:///path or redis://host:port/db, got {settings.store!r}")
    if not 0 < settings.port < 65536:
        raise ConfigError(f"--port must be 1-65535, got {settings.port}")
    if settings.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if settings.upstream_profile and settings.upstream_profile not in PROFILES:
        raise ConfigError(f"--upstream-profile must be one of {', '.join(PROFILES)}, got {settings.upstream_profile!r}")
    if settings.max_seconds < 1:
        raise ConfigError(f"max_seconds must be at least 1, got {settings.max_seconds}")
    if settings.styles_file:
        try:
            StyleBook(settings.styles_file, required=True)
        except StyleError as exc:
            raise ConfigError(str(exc)) from None
    if settings.log_format not in ("json", "console"):
        raise ConfigError("--log-format must be json or console")
    if settings.log_level.lower() not in ("debug", "info", "warning", "error", "critical"):
        raise ConfigError(f"--log-level must be debug, info, warning, error or critical, got {settings.log_level!r}")
    if settings.quota_backend not in ("auto", "memory", "redis") or settings.quota_fail_mode not in ("closed", "open"):
        raise ConfigError("quota_backend must be auto, memory or redis; quota_fail_mode must be closed or open")
    if settings.quota_backend == "redis" and not (settings.quota_redis or settings.store.startswith("redis")):
        raise ConfigError("quota_backend redis needs quota_redis: redis://host:port/db (or a redis:// store)")
    if not settings.upstream_api_key:
        raise ConfigError(
            "no upstream API key: set SORA_GATEWAY_UPSTREAM_API_KEY (or OPENAI_API_KEY) to the key the gateway "
            "uses to call the upstream"
        )
