"""The student handout: `dist/handout/` and `dist/handout.zip`.

Students receive the release notebook(s) with the contract next to them (`docs/API.md`, copied as is),
a wheel of the `tinytorch` framework, the pinned student environment (`requirements-student.lock`, a
part of the course's own lock, as `requirements.txt`), `check.py` (`course/handout_check.py`: runs the
visible checks headless) and `INSTALL.md`, and nothing else. The wheel is built from a throwaway project
that holds a copy of `tinytorch/` only, so no instructor code (`course/`, `solutions/`, `tests/`,
`source/`) can slip into it; tinytorch itself has no op that implements a graded component (no fused
attention or layer norm: students build those; `course train` keeps its fused ops in `course/`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from course.build import REPO, CourseError
from course.components import ASSIGNMENT, NOTEBOOK
from course.lock import STUDENT_LOCK

# Markers that only instructor material carries; a handout containing one is never written.
INSTRUCTOR_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "course.grading")
# What tinytorch needs at run time (ipywidgets: progress bars as widgets in JupyterLab); bounds: pyproject.toml.
WHEEL_DEPENDENCIES = ("numpy", "tqdm", "ipywidgets")
CONTRACT = REPO / "docs" / "API.md"  # shipped as <assignment>/API.md, next to the notebook that points to it
CHECK = Path(__file__).with_name("handout_check.py")  # shipped as check.py

INSTALL = """\
# TinyGPT: installing, working, checking, handing in

Unzipping `handout.zip` gives a folder `handout/`; every command below runs in it. You need Python 3.11,
3.12 or 3.13 (`python3 --version` says which you have; on Windows `py --version`; python.org has
installers; on Debian and Ubuntu also `sudo apt install python3-venv`) with `venv` and pip, and about 1 GB
of disk space.

## 1. Install (once, 1 to 5 minutes)

Linux and macOS (a terminal):

```
python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt {wheel}
```

Windows (PowerShell):

```
py -m venv .venv; .venv\\Scripts\\Activate.ps1; pip install -r requirements.txt {wheel}
```

If `python3` (or `py`) is another version, name a supported one: `python3.12 -m venv .venv`, or
`py -3.12 -m venv .venv`. If PowerShell refuses to run `Activate.ps1`, run
`Set-ExecutionPolicy -Scope CurrentUser RemoteSigned` once.
`requirements.txt` pins the exact versions the course was tested with (JupyterLab, NumPy, matplotlib,
ipywidgets for the progress bars, ...), the same on every supported Python, on Linux, macOS and Windows
(pip adds the few packages only Windows or macOS need); `{wheel}` is `tinytorch`, the framework you build on.
Each time you come back, `cd handout` and activate the environment again: `. .venv/bin/activate`
(Windows: `.venv\\Scripts\\Activate.ps1`).

## 2. Work

```
jupyter lab {notebook}
```

JupyterLab opens in your browser. Work in `{notebook}`: replace each `raise NotImplementedError()` with
your code and run the check cell below it. `{contract}` (open it from JupyterLab's file browser) states
everything the hidden tests check: names, shapes, errors, who does what.

## 3. Check

```
python check.py
```

runs a copy of your notebook top to bottom without a browser (a minute or two; your file is not changed)
and prints each part as done, not done, or failing with the first error message. It runs the visible
checks only: the hidden tests check the same contract on other inputs when your notebook is graded.

## 4. Hand in

The one file `{notebook}`, under that name. Save it in JupyterLab first; outputs may stay in it.
"""


def _wheel_project(target: Path) -> None:
    """Write a minimal project at `target` whose only package is a copy of this repository's `tinytorch/`."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    bounds = [d for d in project["dependencies"] if Requirement(d).name in WHEEL_DEPENDENCIES]
    shutil.copytree(REPO / "tinytorch", target / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "tinytorch"\nversion = "{project["version"]}"\n'
        'description = "The NumPy deep-learning framework of the TinyGPT course"\n'
        f'requires-python = "{project["requires-python"]}"\ndependencies = {json.dumps(bounds)}\n\n'
        '[tool.setuptools.packages.find]\ninclude = ["tinytorch*"]\n')


def build_wheel(out_dir: Path) -> Path:
    """Build `tinytorch-<version>-py3-none-any.whl` into `out_dir` with pip; returns its path."""
    with tempfile.TemporaryDirectory(prefix="tinytorch-wheel-") as tmp:
        _wheel_project(Path(tmp))
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                                 "--wheel-dir", str(out_dir), tmp], capture_output=True, text=True)
    wheels = sorted(out_dir.glob("tinytorch-*.whl"))
    if result.returncode != 0 or not wheels:
        raise CourseError(f"building the tinytorch wheel failed: {result.stderr.strip()[-300:]}")
    return wheels[0]


def _instructor_marker(folder: Path) -> str | None:
    """The first instructor-only marker found in a text file under `folder`, as 'file: marker'."""
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".ipynb", ".py", ".md", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for marker in INSTRUCTOR_MARKERS:
                if marker in text:
                    return f"{path.relative_to(folder)}: {marker!r}"
    return None


def build_handout(course_dir: Path = REPO, assignment: str = ASSIGNMENT, dist: Path | None = None) -> Path:
    """Write `<dist>/handout/` (release, contract, wheel, requirements, check.py, INSTALL.md); returns its zip."""
    release = course_dir / "release" / assignment
    if not release.is_dir():
        raise CourseError(f"no release to hand out: expected {release} (run `course build` first)")
    dist = dist or course_dir / "dist"
    handout = dist / "handout"
    shutil.rmtree(handout, ignore_errors=True)
    (dist / "handout.zip").unlink(missing_ok=True)
    # check.py goes to the hand-out's root (the release carries a copy for nbgrader's exchange)
    shutil.copytree(release, handout / assignment, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "check.py"))
    shutil.copyfile(CONTRACT, handout / assignment / CONTRACT.name)
    shutil.copyfile(STUDENT_LOCK, handout / "requirements.txt")
    shutil.copyfile(CHECK, handout / "check.py")
    leak = _instructor_marker(handout)
    if leak:
        shutil.rmtree(handout)
        raise CourseError(f"the handout contains instructor material ({leak}); "
                          "expected a release generated by `course build`")
    wheel = build_wheel(handout)
    (handout / "INSTALL.md").write_text(INSTALL.format(
        notebook=f"{assignment}/{NOTEBOOK}", contract=f"{assignment}/{CONTRACT.name}", wheel=wheel.name))
    return Path(shutil.make_archive(str(dist / "handout"), "zip", root_dir=dist, base_dir="handout"))
