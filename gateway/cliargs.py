"""Flags that also read ``SORA_GATEWAY_<FLAG>`` (the simulator's: ``SORA_GATEWAY_SIMULATOR_<FLAG>``).

An environment value is handed to argparse as the flag's default *string*, so argparse converts and
checks it like a typed flag (a bad ``SORA_GATEWAY_PORT`` is a usage error naming the variable, not a
traceback, and only for the command that reads it).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

PREFIX = "SORA_GATEWAY_"
SIMULATOR_PREFIX = "SORA_GATEWAY_SIMULATOR_"
_ARGUMENT = re.compile(r"^argument (--[a-z0-9-]+)")


def env_name(name: str, prefix: str = PREFIX) -> str:
    """``data-dir`` / ``data_dir`` -> ``SORA_GATEWAY_DATA_DIR``."""
    return prefix + name.upper().replace("-", "_")


def env_value(name: str, prefix: str = PREFIX) -> str | None:
    """The variable's value; unset and empty are the same."""
    return os.environ.get(env_name(name, prefix)) or None


def env_default(name: str, default: Any = None, prefix: str = PREFIX) -> Any:
    """The default of ``--name``: the environment's string when set, else ``default``."""
    value = env_value(name, prefix)
    return default if value is None else value


def one_of(names: Iterable[str]) -> Callable[[str], str]:
    """An argparse ``type`` that accepts only ``names`` (checked for environment defaults too)."""
    allowed = tuple(names)

    def check(value: str) -> str:
        if value not in allowed:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


class Parser(argparse.ArgumentParser):
    """``prog: error: message`` as usual, naming the environment variable when the bad value came from one."""

    def __init__(self, *args: Any, env_prefix: str = PREFIX, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.env_prefix = env_prefix

    def error(self, message: str) -> NoReturn:
        found = _ARGUMENT.match(message)
        if found:
            name = env_name(found.group(1).lstrip("-"), self.env_prefix)
            value = os.environ.get(name)
            if value and repr(value) in message:
                message += f" (from the environment: {name})"
        super().error(message)
