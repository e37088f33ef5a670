"""The hand-out installs, as INSTALL.md says, on every interpreter of this machine that the course supports,
and its check.py passes the reference notebook there.

Each interpreter gets its own environment `.venv-student-<version>` (git-ignored), made by INSTALL.md's own
install line with that interpreter as `python3` (tests/install/student_environment.py, shared with the browser
test) and kept until the student lock changes. Supported versions the machine lacks are named in the summary at the
end of the run (`pytest_terminal_summary` in this folder's conftest.py); none at all fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from course.handout import INSTALL, build_handout
from course.submissions import fill_release
from tests.install.interpreters import Interpreter, summary, supported_interpreters, supported_minors
from tests.install.student_environment import student_environment

REPO = Path(__file__).resolve().parents[2]
RELEASE = REPO / "release" / "tinygpt" / "tinygpt.ipynb"
SOURCE = REPO / "source" / "tinygpt" / "tinygpt.ipynb"
INTERPRETERS = supported_interpreters()


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unpacked hand-out (`handout/`: requirements.txt, the tinytorch wheel, check.py, the release)."""
    dist = tmp_path_factory.mktemp("dist")
    build_handout(dist=dist)
    return dist / "handout"


def test_install_notes_name_every_supported_python_and_no_fixed_one():
    assert all(minor in INSTALL for minor in supported_minors()), "INSTALL.md should name the supported Pythons"
    assert "python3 -m venv .venv" in INSTALL and "py -m venv .venv" in INSTALL
    assert "python3.11 -m venv" not in INSTALL and "py -3.11" not in INSTALL


def test_the_machine_has_a_supported_interpreter():
    assert INTERPRETERS, f"no interpreter of the supported range on this machine:\n{summary()}"


@pytest.mark.parametrize("interpreter", INTERPRETERS, ids=[i.version for i in INTERPRETERS])
def test_handout_installs_and_check_passes_the_reference(interpreter: Interpreter, handout: Path, tmp_path: Path):
    python = student_environment(interpreter, handout)
    version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == interpreter.version
    notebook = tmp_path / "tinygpt.ipynb"
    nbformat.write(fill_release(RELEASE, SOURCE), notebook)
    environment = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "TINYGPT_TRAIN_STEPS": "30",
                   "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([str(python), str(handout / "check.py"), str(notebook)], capture_output=True, text=True,
                            env=environment, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, f"check.py on {interpreter}:\n{result.stdout}\n{result.stderr[-3000:]}"
    assert "13 of 13 required parts done" in result.stdout, result.stdout
