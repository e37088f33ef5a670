"""The hand-out's student environment, made exactly as the hand-out's INSTALL.md tells Linux and macOS students.

`student_environment(interpreter, handout)` runs INSTALL.md's own install line (`python3 -m venv .venv && .
.venv/bin/activate && pip install -r requirements.txt <wheel>`) with `python3` being `interpreter`, in the
git-ignored folder `.venv-student-<version>/`. The folder keeps the student lock's hash and is made again only
when the lock changes; the wheel (tinytorch as it is now) is reinstalled every time. The browser test and the
install tests share these folders, so each interpreter is installed once per lock; a lock file keeps two test
workers from making one at the same time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.install.interpreters import Interpreter

REPO = Path(__file__).resolve().parents[2]
LOCK_FILE = REPO / ".venv-student.lock"


def install_line(handout: Path) -> str:
    """The one install command the hand-out's INSTALL.md gives Linux and macOS students."""
    found = [line for line in (handout / "INSTALL.md").read_text().splitlines()
             if line.startswith("python3 -m venv .venv")]
    assert len(found) == 1, f"INSTALL.md should give Linux and macOS one install line, `python3 -m venv ...`: {found}"
    return found[0]


def student_environment(interpreter: Interpreter, handout: Path) -> Path:
    """`.venv-student-<version>/.venv/bin/python`, installed by INSTALL.md's line with `interpreter` as python3."""
    folder = REPO / f".venv-student-{interpreter.version}"
    python, stamp = folder / ".venv" / "bin" / "python", folder / ".lock-sha256"
    requirements = handout / "requirements.txt"
    wheel = next(handout.glob("tinytorch-*.whl"))
    key = hashlib.sha256(requirements.read_bytes() + interpreter.version.encode()).hexdigest()
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (python.is_file() and stamp.is_file() and stamp.read_text() == key):
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "bin").mkdir(parents=True)
            (folder / "bin" / "python3").symlink_to(interpreter.executable)  # the student's `python3`
            for name in (requirements, wheel):
                shutil.copy(name, folder)
            environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
            environment["PATH"] = f"{folder / 'bin'}:/usr/bin:/bin"
            installed = subprocess.run(["sh", "-c", install_line(handout)], cwd=folder, env=environment,
                                       capture_output=True, text=True, timeout=900)
            assert installed.returncode == 0, (f"INSTALL.md's install line fails on {interpreter}:\n"
                                               f"{installed.stdout[-2000:]}\n{installed.stderr[-3000:]}")
            stamp.write_text(key)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--force-reinstall", str(wheel)], check=True)
    return python
