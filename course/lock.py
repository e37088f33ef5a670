"""Pinned installs: `requirements.lock` (instructors, CI) and `requirements-student.lock` (the hand-out).

`make lock` (`python -m course.lock`) has uv resolve both with `uv pip compile --universal`: one lock
for every Python that pyproject.toml's `requires-python` allows, from its lowest patch release on
(`--python-version 3.11.0`: Debian 12 ships 3.11.2), on Linux, macOS and Windows, with environment
markers on the few packages only some platforms or versions need. `--fork-strategy fewest` makes one
version of each package serve the whole range. The instructor lock is the project with its extras
(all but `bench`); the student lock is the `student` extra alone, constrained by the instructor lock, so
the two always pin the same versions. Pins already in a lock are kept while pyproject.toml allows them
(`make lock UPGRADE=1` takes the newest releases instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
STUDENT_LOCK = REPO / "requirements-student.lock"
STUDENT_EXTRA = "student"
UNLOCKED_EXTRAS = ("bench",)  # torch is large and only `make bench` needs it
COMMAND = "make lock"  # what the header of each lock says made it


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def supported_pythons() -> SpecifierSet:
    """pyproject.toml's `requires-python`: the CPython versions both locks are resolved for."""
    return SpecifierSet(_project()["requires-python"])


def lowest_python() -> str:
    """The lowest release `requires-python` allows, as 'X.Y.0' (the resolution's floor)."""
    floor = next(spec.version for spec in supported_pythons() if spec.operator == ">=")
    return ".".join((floor.split(".") + ["0", "0"])[:3])


def student_requirements() -> list[str]:
    return _project()["optional-dependencies"][STUDENT_EXTRA]


def locked_extras() -> list[str]:
    return sorted(e for e in _project().get("optional-dependencies", {}) if e not in UNLOCKED_EXTRAS)


def uv() -> str:
    """The uv binary installed in this environment (the `uv` package of requirements.lock)."""
    from uv import find_uv_bin  # installed by `make venv`; imported here so that reading pins needs no uv

    return find_uv_bin()


def _compile(inputs: list[str], output: Path, *, stdin: str | None = None, upgrade: bool = False) -> None:
    command = [uv(), "pip", "compile", *inputs, "--universal", "--python-version", lowest_python(),
               "--fork-strategy", "fewest", "--no-annotate", "--quiet", "--custom-compile-command", COMMAND,
               "--output-file", str(output), *(["--upgrade"] if upgrade else [])]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"uv could not resolve {' '.join(inputs)}: {result.stderr.strip()[-800:]}")


def write_locks(lock: Path = LOCK, student_lock: Path = STUDENT_LOCK, upgrade: bool = False) -> None:
    """Resolve pyproject.toml into `lock`, then its `student` extra into `student_lock` within `lock`'s pins."""
    extras = [argument for extra in locked_extras() for argument in ("--extra", extra)]
    _compile(["pyproject.toml", *extras], lock, upgrade=upgrade)
    _compile(["-", "--constraint", str(lock)], student_lock, stdin="\n".join(student_requirements()) + "\n",
             upgrade=upgrade)


def read_requirements(path: Path) -> list[Requirement]:
    """A lock file's pins (`name==version ; marker`), comments left out."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def read_pins(path: Path) -> dict[str, str]:
    """A lock file as {canonical name: version} (one version a package: the locks are resolved `fewest`)."""
    return {canonicalize_name(r.name): str(r.specifier).removeprefix("==") for r in read_requirements(path)}


def fresh_locks(folder: Path, upgrade: bool = False) -> tuple[Path, Path]:
    """What `make lock` writes now, into `folder`: the committed locks seed it, so their pins are kept."""
    lock, student_lock = folder / LOCK.name, folder / STUDENT_LOCK.name
    for committed, new in ((LOCK, lock), (STUDENT_LOCK, student_lock)):
        if committed.is_file():
            shutil.copyfile(committed, new)
    write_locks(lock, student_lock, upgrade=upgrade)
    return lock, student_lock


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="course-lock-") as tmp:  # both are replaced, or neither
        for new in fresh_locks(Path(tmp), upgrade=bool(os.environ.get("UPGRADE"))):
            shutil.copyfile(new, REPO / new.name)
    print(f"{LOCK.name}: {len(read_pins(LOCK))} packages; {STUDENT_LOCK.name}: {len(read_pins(STUDENT_LOCK))} "
          f"packages (CPython {supported_pythons()}; Linux, macOS, Windows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
