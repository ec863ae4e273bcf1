"""YAML read as nodes, so that every problem in an operator's file can name its line.

Used by the config file (``config.py``), style presets (``core/styles.py``) and the policy files
(``policies/reader.py``). PyYAML's ``safe_load`` keeps the last of two equal keys without a word;
:func:`entries` reports the later ones with the line of the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


class YamlError(ValueError):
    """A file that is not YAML (or cannot be read), at ``line``."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Duplicate:
    key: yaml.Node  # the later occurrence
    name: str
    first_line: int

    @property
    def reason(self) -> str:
        return f"duplicate key {self.name!r} (first at line {self.first_line})"


def line_of(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def compose(text: str) -> yaml.Node | None:
    """The document's root node (``None`` when empty); a syntax error is a :class:`YamlError`."""
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1) if mark else 1
        raise YamlError(line, f"not valid YAML: {exc}".splitlines()[0]) from None


def entries(node: yaml.MappingNode) -> tuple[dict[str, tuple[yaml.Node, yaml.Node]], list[Duplicate]]:
    """A mapping's ``{key: (key node, value node)}`` (first occurrence wins) and its repeated keys."""
    found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    duplicates: list[Duplicate] = []
    for key, value in node.value:
        name = str(key.value)
        if name in found:
            duplicates.append(Duplicate(key, name, line_of(found[name][0])))
        else:
            found[name] = (key, value)
    return found, duplicates


def top_mapping(text: str, expected: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A whole document that must be one mapping without repeated keys; ``{}`` when empty.

    Every problem is a :class:`YamlError` at its line; ``expected`` completes "expected …" for a
    document that is not a mapping.
    """
    root = compose(text)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise YamlError(1, f"expected {expected}")
    found, duplicates = entries(root)
    if duplicates:
        raise YamlError(line_of(duplicates[0].key), duplicates[0].reason)
    return found


def value_of(node: yaml.Node) -> Any:
    """The Python value of one node (scalars as ``safe_load`` reads them)."""
    return yaml.safe_load(yaml.serialize(node))
