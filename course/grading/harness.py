"""Score one submission with the hidden suites: `grade_notebook` (a notebook) and `grade_submission` (a folder).

The hidden suites run in a pytest process of their own per submission (so that nothing one
submission does can stop the grading of the others); each suite runs the student's code only
through `course.grading.sandbox.run_probe`. A component's points are its points times the passed
share of its tests' weights. The result is a plain-data `SubmissionReport`; saving it and recording
it in the gradebook is `course.grading.batch`'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from course.components import BY_ID, COMPONENTS, NOTEBOOK
from course.grading.report import ComponentResult, GradingError, SubmissionReport, TestOutcome
from course.grading.sandbox import HIDE_VARIABLE, LOG_VARIABLE, Limits, SandboxError
from course.notebook import NotebookError, read_cells

REPO = Path(__file__).resolve().parents[2]
HIDDEN_SUITES = REPO / "tests" / "hidden"
PYTEST_SECONDS_PER_COMPONENT = Limits().seconds + 30  # a probe's own limit, plus pytest's work
SANDBOX_BROKEN = "the check could not be completed: SandboxError"  # only trusted test code can raise it


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _component_ids(components: list[str] | None) -> list[str]:
    unknown = sorted(set(components or ()) - set(BY_ID))
    if unknown:
        raise GradingError(f"unknown component(s) {unknown}; expected some of {list(BY_ID)}")
    return list(components) if components else [c.id for c in COMPONENTS]


def _run_hidden_suites(notebook: Path, ids: list[str], hide: tuple[Path, ...],
                       folder: Path) -> tuple[dict, list[dict], str]:
    """Run the suites of `ids` on `notebook` in a pytest process; (record, probe runs, pytest's output tail)."""
    suites = [str(folder / f"test_{id}.py") for id in ids if (folder / f"test_{id}.py").is_file()]
    if not suites:
        return {"outcomes": [], "collection_errors": []}, [], "no hidden suites found"
    with tempfile.TemporaryDirectory(prefix="grading-") as temporary:
        record, probe_log = Path(temporary) / "record.json", Path(temporary) / "probes.jsonl"
        command = [sys.executable, "-m", "pytest", *suites, "-p", "course.grading.pytest_plugin",
                   "-p", "no:cacheprovider", "-o", "addopts=", "-q", "--assert=plain", "--rootdir", str(REPO),
                   "--submission", str(notebook), "--grading-record", str(record)]
        environment = {**os.environ, "PYTHONPATH": str(REPO), LOG_VARIABLE: str(probe_log),
                       "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only our plugin: hypothesis' alone takes seconds
                       HIDE_VARIABLE: os.pathsep.join(str(folder) for folder in hide)}
        try:
            finished = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True,
                                      timeout=PYTEST_SECONDS_PER_COMPONENT * len(suites))
            output = finished.stdout + finished.stderr
        except subprocess.TimeoutExpired:
            output = "the hidden suites did not finish in time"
        runs = [json.loads(line) for line in probe_log.read_text().splitlines()] if probe_log.exists() else []
        data = json.loads(record.read_text()) if record.exists() else {"outcomes": [], "collection_errors": []}
        return data, runs, output[-2000:]


def grade_notebook(notebook: Path, student: str, components: list[str] | None = None,
                   hide: tuple[Path, ...] = (), suites: Path = HIDDEN_SUITES) -> SubmissionReport:
    """Grade `notebook` with the hidden suites (`suites`/test_<id>.py) of `components` (all when None).

    `hide`: folders the student's code must not see besides the repository (e.g. the course folder).
    A notebook that cannot be read gets zero with the reason; it never raises for student input.
    """
    started = time.monotonic()
    notebook = Path(notebook)
    ids = _component_ids(components)
    report = SubmissionReport(student, str(notebook), graded_at=now(),
                              max_total=sum(BY_ID[id].points for id in ids))
    try:
        read_cells(notebook)  # a notebook at all; its code is parsed only in the sandbox (problems: below)
        report.sha256 = file_sha256(notebook)
    except NotebookError as error:
        report.reason = str(error)
        report.components = [ComponentResult(id, BY_ID[id].title, 0.0, BY_ID[id].points, reason=str(error))
                             for id in ids]
        report.seconds = time.monotonic() - started
        return report
    record, runs, output = _run_hidden_suites(notebook, ids, hide, Path(suites))
    broken = [o["message"] for o in record["outcomes"] if o["message"].startswith(SANDBOX_BROKEN)]
    if broken:  # the grader's machinery, not the student: stop rather than hand out zeros
        raise SandboxError(broken[0])
    for id in ids:
        component = BY_ID[id]
        tests = [TestOutcome(o["test"], o["weight"], o["passed"], o["message"])
                 for o in record["outcomes"] if o["component"] == id]
        failed_runs = [run for run in runs if run["component"] == id and run["status"] != "ok"]
        reason = failed_runs[0]["reason"] if failed_runs else None
        if not tests:
            reason = reason or "the grader could not run this component's hidden tests (tell your instructor)"
        total_weight = sum(t.weight for t in tests)
        passed_weight = sum(t.weight for t in tests if t.passed)
        points = round(component.points * passed_weight / total_weight, 2) if total_weight else 0.0
        report.components.append(ComponentResult(id, component.title, points, component.points, tests, reason))
    if not record["outcomes"]:
        print(f"grading {notebook}: no hidden test outcome recorded; pytest said:\n{output}", file=sys.stderr)
    report.total = round(sum(c.points for c in report.components), 2)
    report.protections = runs[0]["protections"] if runs else []
    report.problems = runs[0]["problems"] if runs else []
    report.seconds = time.monotonic() - started
    return report


def find_notebook(folder: Path) -> Path:
    """The notebook in a submission folder: `tinygpt.ipynb`, else the only .ipynb there."""
    if (folder / NOTEBOOK).is_file():
        return folder / NOTEBOOK
    notebooks = sorted(folder.glob("*.ipynb"))
    if len(notebooks) != 1:
        found = "no .ipynb file" if not notebooks else f"{len(notebooks)} notebooks ({[n.name for n in notebooks]})"
        raise GradingError(f"{folder}: {found}; expected one notebook, {NOTEBOOK}")
    return notebooks[0]


def grade_submission(folder: Path, student: str, hide: tuple[Path, ...], suites: Path) -> SubmissionReport:
    try:
        notebook = find_notebook(folder)
    except GradingError as error:
        return SubmissionReport(student, str(folder), reason=str(error),
                                graded_at=now(),
                                components=[ComponentResult(c.id, c.title, 0.0, c.points) for c in COMPONENTS])
    return grade_notebook(notebook, student, hide=hide, suites=suites)
