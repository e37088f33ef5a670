"""The CPython interpreters this machine has, and which of them the course supports.

Looked for under the usual names on PATH (python3, python3.11, ...), in /usr/bin and /usr/local/bin (the
distribution's), and in pyenv's versions folder; each is asked for its version and real path, so that a
name that does not run (a pyenv shim of a version that is not selected) or an alias of another counts once
or not at all.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from course.lock import supported_pythons

NAMES = ("python3", *(f"python3.{minor}" for minor in range(8, 16)))
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
ASK = "import platform, sys; print(platform.python_version(), platform.python_implementation(), sys.executable)"


@dataclass(frozen=True)
class Interpreter:
    version: str  # "3.11.2"
    executable: Path  # its real path

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def __str__(self) -> str:
        return f"{self.version} ({self.executable})"


def _candidates() -> list[str]:
    on_path = [found for name in NAMES if (found := shutil.which(name))]
    system = [str(path) for folder in ("/usr/bin", "/usr/local/bin") for path in sorted(Path(folder).glob("python3*"))]
    pyenv = [str(path) for path in sorted(PYENV_VERSIONS.glob("*/bin/python3.*"))]
    return [path for path in on_path + system + pyenv if not path.endswith("-config")]


@cache
def machine_interpreters() -> tuple[Interpreter, ...]:
    """Every CPython found, one per real executable, oldest first."""
    found: dict[Path, Interpreter] = {}
    for candidate in _candidates():
        try:
            answer = subprocess.run([candidate, "-c", ASK], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode != 0 or len(answer.stdout.split()) != 3:
            continue
        version, implementation, executable = answer.stdout.split()
        real = Path(executable).resolve()
        if implementation == "CPython" and real not in found:
            found[real] = Interpreter(version, real)
    return tuple(sorted(found.values(), key=lambda i: tuple(map(int, i.version.split(".")))))


def running_interpreter() -> Interpreter:
    """The interpreter running this process (its base, not a venv's link to it)."""
    return Interpreter(platform.python_version(), Path(sys._base_executable).resolve())


def supported_interpreters() -> tuple[Interpreter, ...]:
    """The machine's interpreters in pyproject.toml's requires-python, one per version."""
    by_version = {i.version: i for i in machine_interpreters() if supported_pythons().contains(i.version)}
    return tuple(by_version.values())


def supported_minors() -> list[str]:
    """'3.11', '3.12', ...: the minor versions requires-python allows (from its floor to below its cap)."""
    return [f"3.{minor}" for minor in range(100)
            if any(supported_pythons().contains(f"3.{minor}.{patch}") for patch in (0, 99))]


def summary() -> str:
    """One line per supported minor version: the interpreters found for it, or that there is none."""
    found = supported_interpreters()
    lines = []
    for minor in supported_minors():
        these = [str(i) for i in found if i.minor == minor]
        lines.append(f"CPython {minor}: " + (", ".join(these) if these else "MISSING on this machine (not tested)"))
    others = sorted({i.version for i in machine_interpreters()} - {i.version for i in found})
    if others:
        lines.append("outside the supported range (not used): " + ", ".join(others))
    return "\n".join(lines)
