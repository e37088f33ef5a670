"""Gradescope: build the autograder zip (`course gradescope`) and grade one submission inside it.

The zip holds `setup.sh` and `run_autograder` at its root, and what grading reads: the grading package
(`course/`, with the probes), `tinytorch/`, the hidden suites (`tests/hidden/`), the reference solution
(`solutions/`), `pyproject.toml`, `requirements.lock` and `conftest.py`. Gradescope unpacks it into
`/autograder/source/` and runs `setup.sh` once, as root, on its Ubuntu image: it installs Python 3.11, then
into `/autograder/venv` the exact versions of `requirements.lock` and this package with nothing resolved
again. For each submission it runs `run_autograder`, which calls `grade_here`: the notebook
in `/autograder/submission/` (any .ipynb name) is graded by the same sandboxed harness as
`course grade`, and `/autograder/results/results.json` gets one test per component whose `output`
is the student's feedback (never hidden test code). The environment variable
GRADESCOPE_AUTOGRADER_ROOT replaces `/autograder` (the tests grade in a scratch folder laid out alike).
Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (see docs/gradescope.md).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import zipfile
from pathlib import Path

from course.build import REPO, require_assignment
from course.components import ASSIGNMENT, NOTEBOOK
from course.grading.harness import HIDDEN_SUITES, grade_notebook, grade_submission
from course.grading.report import GradingError, SubmissionReport, listed_problems, one_line

ROOT_VARIABLE = "GRADESCOPE_AUTOGRADER_ROOT"
DEFAULT_ROOT = Path("/autograder")
# What grading reads, relative to the repository (globs); nothing of the student's hand-out or of other tools.
LOCK = "requirements.lock"  # the pinned versions `make venv` installs; the image installs the same ones
PACKED = ("course/**/*.py", "tinytorch/**/*.py", "tests/hidden/**/*.py", "tests/finite_differences.py",
          "solutions/**/*.py", "pyproject.toml", "conftest.py", LOCK)

SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu 22.04 base recommended).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
# Python 3.11 for the course; util-linux's `unshare` for the sandbox's namespaces (present on Ubuntu).
apt-get install -y --no-install-recommends python3.11 python3.11-venv util-linux
python3.11 -m venv /autograder/venv
# The exact versions of the course's lock (shipped in the zip), then the package itself without resolving again.
/autograder/venv/bin/pip install -r /autograder/source/{LOCK}
/autograder/venv/bin/pip install --no-deps --no-build-isolation -e /autograder/source
# Fail the image build (not a student's submission) if the sandbox cannot run here.
cd /autograder/source && /autograder/venv/bin/python -m course.gradescope check
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission/*.ipynb, write results/results.json.
set -euo pipefail
root="${GRADESCOPE_AUTOGRADER_ROOT:-/autograder}"
cd "$root/source"
PYTHONPATH="$root/source" exec "$root/venv/bin/python" -m course.gradescope grade --root "$root"
"""


def build_autograder(course_dir: Path = REPO, assignment: str = ASSIGNMENT, output: Path | None = None) -> Path:
    """Write the autograder zip (default `dist/gradescope-<assignment>.zip`); returns its path."""
    require_assignment(course_dir, assignment)
    if not (REPO / "solutions" / "tinygpt.py").is_file():
        raise GradingError(f"no reference solution {REPO / 'solutions' / 'tinygpt.py'}; run `course build` first")
    output = Path(output or course_dir / "dist" / f"gradescope-{assignment}.zip")
    output.parent.mkdir(parents=True, exist_ok=True)
    files = sorted({path for pattern in PACKED for path in REPO.glob(pattern) if "__pycache__" not in path.parts})
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            entry = zipfile.ZipInfo(name)
            entry.external_attr = (stat.S_IFREG | 0o755) << 16  # executable once unpacked
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, text)
        for path in files:
            archive.write(path, path.relative_to(REPO).as_posix())
    return output


def find_submitted_notebook(submission: Path) -> Path:
    """The notebook in the submission folder: the only .ipynb (subfolders too), else the one `tinygpt.ipynb`."""
    notebooks = sorted(path for path in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts)
    if len(notebooks) == 1:
        return notebooks[0]
    named = [path for path in notebooks if path.name == NOTEBOOK]
    if len(named) == 1:
        return named[0]
    raise GradingError(f"{submission}: {len(notebooks)} notebooks; expected one, {NOTEBOOK}")


def results(report: SubmissionReport) -> dict:
    """Gradescope's results.json for a report: one test per component; outputs are the student's feedback."""
    summary = [f"Total: {report.total:g} / {report.max_total}"]
    summary += [f"Your notebook could not be graded: {one_line(report.reason)}"] if report.reason else []
    summary += ["Parts of your notebook did not load:", *(f"- {p}" for p in listed_problems(report.problems))
                ] if report.problems else []
    tests = [{"name": c.title, "score": c.points, "max_score": c.max_points,
              "status": "passed" if c.points >= c.max_points else "failed",
              "output": c.feedback(), "visibility": "visible"} for c in report.components]
    return {"score": report.total, "execution_time": round(report.seconds), "output": "\n".join(summary),
            "output_format": "text", "test_output_format": "text",  # shown as text: no HTML or Markdown of theirs
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def _student(root: Path) -> str:
    """The submitter's e-mail from Gradescope's submission_metadata.json, else "gradescope"."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text())["users"]
        return str(users[0].get("email") or users[0].get("name") or "gradescope")
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return "gradescope"


def grade_here(root: Path) -> dict:
    """Grade the submission under `root` (laid out as /autograder) and write `root/results/results.json`."""
    student = _student(root)
    try:
        notebook = find_submitted_notebook(root / "submission")
    except GradingError:  # the harness's zero report, saying what it found and what it expected
        report = grade_submission(root / "submission", student, (root,), HIDDEN_SUITES)
    else:  # the whole autograder folder is hidden from the student's code: reference, suites, results/
        report = grade_notebook(notebook, student, hide=(root,))
    data = results(report)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(data, indent=1))
    # stdout: for the instructor only (stdout_visibility hidden)
    print(f"graded {report.notebook} as {student}: {report.total:g} / {report.max_total} in {report.seconds:.1f} s")
    print("sandbox protections:\n" + "\n".join(f"  - {p}" for p in report.protections))
    return data


def check() -> int:
    """At image build time: the sandbox must run a probe here (prints its protections)."""
    from course.grading.cluster import sandbox_check

    info = sandbox_check()
    print("sandbox protections:\n" + "\n".join(f"  - {p}" for p in info["protections"]))
    if info["error"]:
        print(f"the grading sandbox does not work in this image: {info['error']}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m course.gradescope", description="Gradescope's side of grading.")
    commands = top.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade /autograder/submission, write /autograder/results/results.json")
    grade.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT)))
    commands.add_parser("check", help="check that the sandbox runs here")
    args = top.parse_args(argv)
    if args.command == "check":
        return check()
    grade_here(args.root.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
