"""The README's commands on a fresh clone, with only one supported Python on PATH.

With Debian's own python3 (3.11.2 on Debian 12) first on PATH and no other 3.11, `make demo` sets up .venv
and prints the three scores. With 3.12 or 3.13 first on PATH, `make venv` picks that interpreter and the whole
suite collects there (running `make test` inside `make test` would run every test twice). The clone's installs
come from uv's cache, which `make venv` warmed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.install.interpreters import Interpreter, supported_interpreters

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
NEWER = {i.minor: i for i in supported_interpreters() if i.minor != "3.11"}  # the newest patch of each minor


def _clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    return clone


def _make(clone: Path, target: str, bin_folder: str, timeout: int) -> subprocess.CompletedProcess:
    """`make target` in `clone` with PATH = `bin_folder`, then the system's folders (no pyenv, no venv)."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYENV_VERSION", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    environment["PATH"] = f"{bin_folder}:/usr/bin:/bin"
    return subprocess.run(["make", target], cwd=clone, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def _venv_version(clone: Path) -> str:
    return subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c",
                           "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_make_demo_with_debians_python3(tmp_path: Path):
    if not DEBIAN_PYTHON.is_file():
        pytest.fail(f"{DEBIAN_PYTHON} is missing: this test needs the distribution's python3")
    system = subprocess.run([str(DEBIAN_PYTHON), "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True, check=True).stdout.strip()
    clone = _clone(tmp_path)
    result = _make(clone, "demo", str(tmp_path / "no-other-python"), timeout=900)
    assert result.returncode == 0, f"make demo with Python {system}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert _venv_version(clone) == system
    for student, total in (("demo-reference", "100"), ("demo-untouched", "0"), ("demo-partial", "")):
        line = next((line for line in result.stdout.splitlines() if line.lstrip().startswith(student)), None)
        assert line is not None and total in line, f"no score line for {student}:\n{result.stdout[-3000:]}"


@pytest.mark.parametrize("interpreter", NEWER.values(), ids=list(NEWER))
def test_make_venv_picks_the_newer_python_first_on_path_and_the_suite_collects(interpreter: Interpreter,
                                                                                 tmp_path: Path):
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / f"python{interpreter.minor}").symlink_to(interpreter.executable)
    clone = _clone(tmp_path)
    result = _make(clone, "venv", str(bin_folder), timeout=600)
    assert result.returncode == 0, f"make venv with {interpreter}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert _venv_version(clone) == interpreter.version
    collected = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-m", "pytest", "--collect-only", "-q",
                                "-p", "no:cacheprovider"], cwd=clone, capture_output=True, text=True, timeout=600)
    assert collected.returncode == 0, f"collection on {interpreter}:\n{collected.stdout[-3000:]}"

