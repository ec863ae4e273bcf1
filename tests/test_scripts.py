"""`./scripts/test` leaves the demo's `.venv` alone (issue 22, item 11).

The test extra pins the `openai` SDK the tests are written against; installing it into the `.venv` the
README's demo line made would silently replace the SDK there. The script is run for real, in a copy of
the repository layout, with a stand-in interpreter that records every call instead of installing.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RECORDER = """#!/usr/bin/env bash
echo "$0 $*" >> "{log}"
"""

# a stand-in for python3: `-m venv DIR` makes DIR/bin/{python,ruff} recorders; anything else is recorded
FAKE_PYTHON = """#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  for tool in python ruff pip; do
    printf '%s\\n' '#!/usr/bin/env bash' 'echo "$0 $*" >> "{log}"' > "$3/bin/$tool"
    chmod +x "$3/bin/$tool"
  done
fi
echo "$0 $*" >> "{log}"
"""


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_test_script_installs_into_its_own_venv_and_never_touches_dot_venv(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "test", repo / "scripts" / "test")
    log = tmp_path / "calls.log"
    user = tmp_path / "user.log"
    for tool in ("python", "pip", "ruff"):  # the demo's venv, as the README's first command leaves it
        executable(repo / ".venv" / "bin" / tool, RECORDER.format(log=user))
    fake = tmp_path / "fake-python3"
    executable(fake, FAKE_PYTHON.format(log=log))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHON": str(fake), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(repo / "scripts" / "test"), "-k", "nothing"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert not user.exists(), user.read_text()  # nothing ran from .venv: its openai stays as installed
    calls = [line.replace(f"{repo}/", "") for line in log.read_text().splitlines()]
    assert calls == [
        f"{fake} -m venv .venv-test",
        ".venv-test/bin/python -m pip install -q --upgrade pip",
        ".venv-test/bin/python -m pip install -q -e .[test]",
        ".venv-test/bin/ruff check gateway tests benchmarks",
        ".venv-test/bin/ruff format --check gateway tests benchmarks",
        ".venv-test/bin/python -m pytest -q -n 4 -k nothing",
    ], calls


def test_the_readme_says_what_the_tests_need_next_to_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    around = readme.split("```bash\n./scripts/test\n```", 1)[1].split("\n## ", 1)[0]
    for said in (".venv-test", "Redis on 127.0.0.1:6379", "chromium", ".ci/run", "redis-server", "apt-get install"):
        assert said in around, said
    ci = (ROOT / ".ci" / "run").read_text()  # and .ci/run does what the README says it does
    assert "redis-server --daemonize yes --port 6379" in ci and "apt-get install -y -q chromium" in ci
    assert ci.rstrip().endswith("./scripts/test")
    assert "VENV=${TEST_VENV:-.venv-test}" in (ROOT / "scripts" / "test").read_text()
