"""How the user can run this installation's commands from where they are, for the commands we print.

``sora-gateway`` is only on ``PATH`` when its virtual environment is active (or it was installed into a
directory on ``PATH``). A printed command must run as printed, from any directory (the demo's banner is
read in another terminal): the bare name when ``PATH`` finds this very installation, else the absolute
path of the script beside the running interpreter (``/home/me/sora-gateway/.venv/bin/sora-gateway``),
else ``python -m gateway`` with that interpreter's absolute path.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

NAME = "sora-gateway"


def bin_dir() -> Path:
    """The directory of the running interpreter (a venv's ``bin``), symlinks kept (a venv's python is one)."""
    return Path(os.path.abspath(sys.executable)).parent


def tool(name: str) -> str | None:
    """How to run ``name`` from this interpreter's ``bin`` directory, or ``None`` when it has none.

    A script found on ``PATH`` through a symlink to it (pipx) is the same program. The interpreter is not
    compared that way: a venv's ``python`` links to the system one, which lacks the venv's packages.
    """
    here = bin_dir() / name
    if not (here.is_file() and os.access(here, os.X_OK)):
        return None
    found = shutil.which(name)
    if found and Path(os.path.abspath(found)).parent == here.parent:
        return name
    if found and not here.is_symlink() and Path(found).resolve() == here.resolve():
        return name
    return str(here)


def command() -> str:
    """How to run ``sora-gateway`` (a shell word or two, ready for ``f"{command()} generate ..."``)."""
    script = tool(NAME)
    if script is not None:
        return shlex.quote(script)
    return shlex.join([tool(Path(sys.executable).name) or sys.executable, "-m", "gateway"])


def python() -> str:
    """How to run the interpreter that has this installation (and the SDK when it was installed beside it)."""
    return shlex.quote(tool(Path(sys.executable).name) or sys.executable)


def command_words() -> list[str]:
    return shlex.split(command())
