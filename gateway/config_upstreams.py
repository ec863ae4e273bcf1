"""The ``upstreams:`` setting: several upstreams in order of preference, each checked at its line.

```yaml
upstreams:
  - {url: https://api.openai.com/v1, api_key_env: OPENAI_API_KEY}
  - {url: https://myres.openai.azure.com/openai/v1, api_key_env: AZURE_SORA_KEY, profile: azure-sora-1}
```

``api_key_env`` names the environment variable holding that upstream's key (a key itself never
goes into a file); it must be set when the gateway starts. ``profile`` pins the upstream's profile;
left out, the URL's host decides (:mod:`gateway.upstreams.hosts`: a provider's public API host pins its
profile, a local one is detected live, any other public host is an error at the entry's line).
``model_map`` (``{sora-2: <provider model>, ...}``) overrides the profile's default map of client model names
to the provider's models. ``SORA_GATEWAY_UPSTREAMS`` takes the same list as JSON or YAML flow text.
The top-level ``model_map`` setting is the same map for every upstream (an entry's own wins).
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from gateway.config_urls import http_problem
from gateway.providers import CATALOG, PROFILES
from gateway.upstreams.hosts import UnknownHost, profile_for_url
from gateway.yamlfile import YamlError, compose, entries, line_of, value_of

KEYS = ("url", "api_key_env", "profile", "model_map")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UpstreamsError(ValueError):
    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def model_map(value: Any, label: str, line: int | None = None) -> dict[str, str]:
    """A ``model_map``: client model name -> provider model name, both non-empty strings."""
    if isinstance(value, str):
        try:
            root = compose(value)
        except YamlError as exc:
            raise UpstreamsError(line, f"{label}: {exc.reason}") from None
        value = value_of(root) if root is not None else None
    if not isinstance(value, dict) or not value:
        raise UpstreamsError(line, f"{label} must be a mapping of client model -> provider model")
    result: dict[str, str] = {}
    for name, target in value.items():
        if not isinstance(name, str) or not isinstance(target, str) or not name.strip() or not target.strip():
            raise UpstreamsError(line, f"{label}: {name!r}: {target!r} must map a model name to a model name")
        result[name.strip()] = target.strip()
    return result


def _entry(index: int, fields: dict[str, tuple[Any, int | None]], line: int | None) -> dict[str, Any]:
    """One checked entry; ``fields`` maps key -> (value, line)."""
    label = f"upstreams[{index}]"
    for key, (_, at) in fields.items():
        if key not in KEYS:
            raise UpstreamsError(at, f"{label}: unknown key {key!r} (expected {', '.join(KEYS)})")
    for key in ("url", "api_key_env"):
        if key not in fields or not isinstance(fields[key][0], str) or not fields[key][0].strip():
            raise UpstreamsError(fields.get(key, (None, line))[1], f"{label}: {key} must be a non-empty string")
    url, url_line = fields["url"][0].strip(), fields["url"][1]
    problem = http_problem(url)
    if problem:
        raise UpstreamsError(url_line, f"{label}: url {problem}")
    env, env_line = fields["api_key_env"][0].strip(), fields["api_key_env"][1]
    if not ENV_NAME.match(env):
        raise UpstreamsError(env_line, f"{label}: api_key_env must name an environment variable, got {env!r}")
    if not os.environ.get(env):
        raise UpstreamsError(env_line, f"{label}: api_key_env {env} is not set in the environment")
    entry: dict[str, Any] = {"url": url, "api_key_env": env}
    if "model_map" in fields:
        entry["model_map"] = model_map(fields["model_map"][0], f"{label}.model_map", fields["model_map"][1])
    if "profile" in fields and fields["profile"][0] is not None:
        profile, at = str(fields["profile"][0]).strip(), fields["profile"][1]
        if profile not in PROFILES:
            raise UpstreamsError(at, f"{label}: profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        entry["profile"] = profile
    else:  # the URL's host names it (a provider's public API host), or a local one is detected live
        try:
            found = profile_for_url(url, CATALOG.host_entries())
        except UnknownHost as exc:
            raise UpstreamsError(url_line, f"{label}: profile left out and {exc}") from None
        if found is not None:
            entry["profile"] = found
    return entry


def from_node(node: yaml.Node) -> list[dict[str, Any]]:
    """The list from a config file's node; problems carry the line they are at."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise UpstreamsError(line_of(node), "upstreams must be a non-empty list of {url, api_key_env, profile?}")
    result = []
    for index, item in enumerate(node.value):
        if not isinstance(item, yaml.MappingNode):
            raise UpstreamsError(line_of(item), f"upstreams[{index}] must be a mapping of url, api_key_env, profile")
        found, duplicates = entries(item)
        if duplicates:
            raise UpstreamsError(line_of(duplicates[0].key), f"upstreams[{index}]: {duplicates[0].reason}")
        fields = {key: (value_of(value), line_of(knode)) for key, (knode, value) in found.items()}
        result.append(_entry(index, fields, line_of(item)))
    return result


def from_value(value: Any) -> list[dict[str, Any]]:
    """The list from an environment value (JSON or YAML text) or an already parsed list."""
    if isinstance(value, str):
        try:
            root = compose(value)
        except YamlError as exc:
            raise UpstreamsError(None, exc.reason) from None
        if root is None:
            raise UpstreamsError(None, "upstreams must be a non-empty list of {url, api_key_env, profile?}")
        return from_node(root)
    if not isinstance(value, list) or not value:
        raise UpstreamsError(None, "upstreams must be a non-empty list of {url, api_key_env, profile?}")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise UpstreamsError(None, f"upstreams[{index}] must be a mapping of url, api_key_env, profile")
        result.append(_entry(index, {str(k): (v, None) for k, v in item.items()}, None))
    return result
