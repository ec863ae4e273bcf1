"""Walk YAML node trees so every problem in a policy file can name its line (``gateway/yamlfile.py``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.policies.model import ContentRules, Quotas, Webhooks
from gateway.providers import CATALOG
from gateway.webhooks.signing import SecretError, secret_bytes
from gateway.yamlfile import YamlError, compose, entries, line_of, value_of

QUOTA_FIELDS = tuple(Quotas.__dataclass_fields__)
WHOLE_QUOTAS = ("requests_per_minute", "concurrent_jobs")
CONTENT_FIELDS = tuple(ContentRules.__dataclass_fields__)
LIST_RULES = ("blocked_terms", "blocked_patterns", "allowed_styles", "include")
FLAG_RULES = ("sensitive", "moderation")
CACHE_SCOPES = ("tenant", "shared", "off")
KNOWN_MODELS = CATALOG.models()


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 0: the problem is the path itself (a folder), not a line in it
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" if self.line else f"{self.file}: {self.reason}"


class Reader:
    """One file's nodes; problems go to the shared list with ``file:line``."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems

    def fail(self, node: yaml.Node | None, reason: str) -> None:
        self.problems.append(Problem(self.path, line_of(node), reason))

    def root(self) -> yaml.Node | None:
        """Compose the file; a YAML syntax error is a problem at its line and yields ``None``."""
        try:
            return compose(Path(self.path).read_text(encoding="utf-8"))
        except YamlError as exc:
            self.problems.append(Problem(self.path, exc.line, exc.reason))
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(self.path, 1, f"cannot read the file: {exc}"))
        return None

    def mapping(self, node: yaml.Node | None, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping's entries; a key given twice is a problem at its second line."""
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return {}
        found, duplicates = entries(node)
        for duplicate in duplicates:
            self.fail(duplicate.key, duplicate.reason)
        return found

    def fields(self, node: yaml.Node | None, what: str, known: tuple[str, ...]) -> dict[str, yaml.Node]:
        """A mapping whose keys must all be ``known``; unknown keys are problems."""
        result: dict[str, yaml.Node] = {}
        for name, (key, value) in self.mapping(node, what).items():
            if name not in known:
                self.fail(key, f"unknown {what} key {name!r}; known: {', '.join(sorted(known))}")
            else:
                result[name] = value
        return result

    def str_list(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode) or not all(isinstance(i, yaml.ScalarNode) for i in node.value):
            self.fail(node, f"{what} must be a list of strings")
            return ()
        return tuple(str(i.value) for i in node.value)

    def scalar(self, node: yaml.Node) -> Any:
        return value_of(node) if isinstance(node, yaml.ScalarNode) else node

    def number(self, node: yaml.Node, what: str, *, whole: bool = False) -> float | None:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(node, f"{what} must be a number >= 0")
            return None
        if whole and value != int(value):
            self.fail(node, f"{what} must be a whole number")
            return None
        return int(value) if whole else value

    def flag(self, node: yaml.Node, what: str) -> bool | None:
        value = self.scalar(node)
        if not isinstance(value, bool):
            self.fail(node, f"{what} must be true or false")
            return None
        return value


def quota_values(r: Reader, node: yaml.Node | None) -> dict[str, Any]:
    """The quotas a file sets (absent ones stay absent, so defaults can fill them)."""
    values: dict[str, Any] = {}
    for name, value in r.fields(node, "quotas", QUOTA_FIELDS).items():
        number = r.number(value, f"quotas.{name}", whole=name in WHOLE_QUOTAS)
        if number is not None:
            values[name] = number
    return values


def content_values(
    r: Reader, node: yaml.Node | None, shared: set[str], *, known: tuple[str, ...] = CONTENT_FIELDS
) -> dict[str, Any]:
    """The content rules a file sets; ``include`` names must be shared rule sets in ``shared``."""
    values: dict[str, Any] = {}
    for name, value in r.fields(node, "content", known).items():
        if name == "description":
            continue
        if name in LIST_RULES:
            items = r.str_list(value, f"content.{name}")
            values[name] = items
            for item, text in zip(getattr(value, "value", []), items, strict=False):
                _check_item(r, name, item, text, shared)
        elif name in FLAG_RULES:
            flag = r.flag(value, f"content.{name}")
            if flag is not None:
                values[name] = flag
        else:
            number = r.number(value, f"content.{name}", whole=True)
            if number is not None:
                values[name] = number
    return values


def _check_item(r: Reader, rule: str, node: yaml.Node, text: str, shared: set[str]) -> None:
    if rule == "blocked_patterns":
        try:
            re.compile(text)
        except re.error as exc:
            r.fail(node, f"content.blocked_patterns: invalid regular expression {text!r}: {exc}")
    elif rule == "blocked_terms" and not text.strip():
        r.fail(node, "content.blocked_terms: an empty term would block everything")
    elif rule == "include" and text not in shared:
        known = ", ".join(sorted(shared)) or "none"
        r.fail(node, f"content.include: no shared rule set {text!r} (policies/content/{text}.yaml); known: {known}")


def model_list(r: Reader, node: yaml.Node) -> tuple[str, ...]:
    models = r.str_list(node, "models")
    for item, model in zip(getattr(node, "value", []), models, strict=False):
        if model not in KNOWN_MODELS:
            r.fail(item, f"unknown model {model!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
    return models


def cache_scope(r: Reader, node: yaml.Node) -> str | None:
    fields = r.fields(node, "cache", ("scope",))
    if "scope" not in fields:
        return None
    node = fields["scope"]
    scope = str(node.value) if isinstance(node, yaml.ScalarNode) else ""  # raw text: YAML 1.1 reads off as false
    if scope not in CACHE_SCOPES:
        r.fail(node, f"cache.scope must be one of {', '.join(CACHE_SCOPES)}")
        return None
    return scope


WEBHOOK_FIELDS = ("url", "secret", "secret_env", "events")


def webhooks(r: Reader, node: yaml.Node, known_events: list[str]) -> Webhooks | None:
    """``webhooks: {url?, secret | secret_env, events}``; every problem names its line."""
    fields = r.fields(node, "webhooks", WEBHOOK_FIELDS)
    if not isinstance(node, yaml.MappingNode):
        return None
    url_node = fields.get("url")  # optional: without it, the secret signs the per-request callback_url deliveries
    url = str(url_node.value) if isinstance(url_node, yaml.ScalarNode) else ""
    if url_node is not None and (not url.startswith(("http://", "https://")) or len(url.encode()) > 2048):
        r.fail(url_node, "webhooks.url must be an http:// or https:// URL of at most 2048 bytes")
    secret: str | None = None
    if "secret" in fields and "secret_env" in fields:
        r.fail(fields["secret_env"], "webhooks: give either 'secret' or 'secret_env', not both")
    elif "secret" in fields or "secret_env" in fields:
        which = "secret" if "secret" in fields else "secret_env"
        value_node = fields[which]
        text = str(value_node.value) if isinstance(value_node, yaml.ScalarNode) else ""
        if which == "secret_env":
            secret = os.environ.get(text) if text else None
            if not text:
                r.fail(value_node, "webhooks.secret_env must name an environment variable")
            elif not secret:
                r.fail(value_node, f"webhooks.secret_env: the environment variable {text!r} is not set")
        else:
            secret = text
        if secret:
            try:
                secret_bytes(secret)
            except SecretError as exc:
                r.fail(value_node, f"webhooks.{which}: {exc}")
                secret = None
    events = tuple(known_events[:2])
    if "events" in fields:
        events = r.str_list(fields["events"], "webhooks.events")
        for item, event in zip(getattr(fields["events"], "value", []), events, strict=False):
            if event not in known_events:
                r.fail(item, f"webhooks.events: unknown event {event!r}; known: {', '.join(known_events)}")
    return Webhooks(url=url or None, secret=secret or None, events=events)
