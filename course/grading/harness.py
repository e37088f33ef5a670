"""Score one submission with the hidden suites: `grade_notebook` (a notebook) and `grade_submission` (a folder).

The hidden suites run in a pytest process of their own per submission (so that nothing one
submission does can stop the grading of the others); each suite runs the student's code only
through `course.grading.sandbox.run_probe`. A component's points are its points times the passed
share of its tests' weights. The result is a plain-data `SubmissionReport`; saving it and recording
it in the gradebook is `course.grading.batch`'s job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from course.components import BY_ID, COMPONENTS, NOTEBOOK
from course.grading.intake import check_folder, graded_copy, take_in
from course.grading.report import ComponentResult, GradingError, SubmissionReport, TestOutcome, one_line
from course.grading.sandbox import HIDE_VARIABLE, LOG_VARIABLE, Limits, SandboxError

REPO = Path(__file__).resolve().parents[2]
HIDDEN_SUITES = REPO / "tests" / "hidden"
PYTEST_SECONDS_PER_COMPONENT = Limits().seconds + 30  # a probe's own limit, plus pytest's work
SUBMISSION_SECONDS = PYTEST_SECONDS_PER_COMPONENT * len(COMPONENTS)  # wall clock for everything one submission costs
SANDBOX_BROKEN = "the check could not be completed: SandboxError"  # only trusted test code can raise it


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _component_ids(components: list[str] | None) -> list[str]:
    unknown = sorted(set(components or ()) - set(BY_ID))
    if unknown:
        raise GradingError(f"unknown component(s) {unknown}; expected some of {list(BY_ID)}")
    return list(components) if components else [c.id for c in COMPONENTS]


def zero_report(student: str, path: Path, reason: str, ids: list[str] | None = None) -> SubmissionReport:
    """Zero points on every component of `ids` (all when None), with `reason` (one line) for the student."""
    reason = one_line(reason)
    ids = ids or [c.id for c in COMPONENTS]
    return SubmissionReport(student, str(path), reason=reason, graded_at=now(),
                            max_total=sum(BY_ID[id].points for id in ids),
                            components=[ComponentResult(id, BY_ID[id].title, 0.0, BY_ID[id].points, reason=reason)
                                        for id in ids])


def _run_hidden_suites(notebook: Path, ids: list[str], hide: tuple[Path, ...], folder: Path,
                       seconds: float) -> tuple[dict, list[dict], str] | None:
    """Run the suites of `ids` on `notebook` in a pytest process; (record, probe runs, pytest's output tail),
    or None when it ran out of `seconds` (then it is killed, with everything it started in its process group)."""
    suites = [str(folder / f"test_{id}.py") for id in ids if (folder / f"test_{id}.py").is_file()]
    if not suites:
        return {"outcomes": [], "collection_errors": []}, [], "no hidden suites found"
    with tempfile.TemporaryDirectory(prefix="grading-") as temporary:
        record, probe_log = Path(temporary) / "record.json", Path(temporary) / "probes.jsonl"
        command = [sys.executable, "-m", "pytest", *suites, "-p", "course.grading.pytest_plugin",
                   "-p", "no:cacheprovider", "-o", "addopts=", "-q", "--assert=plain", "--rootdir", str(REPO),
                   "--submission", str(notebook), "--grading-record", str(record)]
        environment = {**os.environ, "PYTHONPATH": str(REPO), LOG_VARIABLE: str(probe_log),
                       "TMPDIR": temporary,  # the sandboxes' stage folders too: removed below, even when killed
                       "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only our plugin: hypothesis' alone takes seconds
                       HIDE_VARIABLE: os.pathsep.join(str(folder) for folder in hide)}
        with subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", start_new_session=True) as process:
            try:
                output, _ = process.communicate(timeout=max(seconds, 0))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                return None
        runs = [json.loads(line) for line in probe_log.read_text().splitlines()] if probe_log.exists() else []
        data = json.loads(record.read_text()) if record.exists() else {"outcomes": [], "collection_errors": []}
        return data, runs, output[-2000:]


def grade_notebook(notebook: Path, student: str, components: list[str] | None = None,
                   hide: tuple[Path, ...] = (), suites: Path = HIDDEN_SUITES,
                   seconds: float = SUBMISSION_SECONDS) -> SubmissionReport:
    """Grade `notebook` with the hidden suites (`suites`/test_<id>.py) of `components` (all when None).

    `hide`: folders the student's code must not see besides the repository (e.g. the course folder).
    The notebook is taken in first (`course.grading.intake.take_in`): a file that is not a valid notebook
    gets zero with the reason, as does a submission whose grading takes more than `seconds` in all. The
    harness grades a validated copy, never the submitted file; it never raises for student input.
    """
    started = time.monotonic()
    ids = _component_ids(components)
    intake = take_in(Path(notebook))
    if intake.reason:
        report = zero_report(student, notebook, intake.reason, ids)
        report.sha256, report.seconds = intake.sha256, time.monotonic() - started
        return report
    with tempfile.TemporaryDirectory(prefix="graded-copy-") as scratch:
        graded = graded_copy(intake, Path(scratch) / NOTEBOOK)  # its code is parsed only in the sandbox
        result = _run_hidden_suites(graded, ids, hide, Path(suites), seconds - (time.monotonic() - started))
    if result is None:
        report = zero_report(student, notebook, f"grading was stopped after {seconds:g} s, the limit for one "
                             "submission (an endless loop or far too slow code?)", ids)
        report.sha256, report.seconds = intake.sha256, time.monotonic() - started
        return report
    record, runs, output = result
    report = SubmissionReport(student, str(notebook), graded_at=now(), max_total=sum(BY_ID[id].points for id in ids),
                              sha256=intake.sha256)
    broken = [o["message"] for o in record["outcomes"] if o["message"].startswith(SANDBOX_BROKEN)]
    if broken:  # the grader's machinery, not the student: stop rather than hand out zeros
        raise SandboxError(broken[0])
    for id in ids:
        component = BY_ID[id]
        tests = [TestOutcome(o["test"], o["weight"], o["passed"], one_line(o["message"]))
                 for o in record["outcomes"] if o["component"] == id]
        failed_runs = [run for run in runs if run["component"] == id and run["status"] != "ok"]
        reason = one_line(failed_runs[0]["reason"]) if failed_runs else None
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
    report.problems = [one_line(problem) for problem in runs[0]["problems"]] if runs else []
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
    """Grade the notebook of a submission folder; a folder that is refused (`intake.check_folder`) or holds no
    notebook scores zero with the reason."""
    problem = check_folder(folder)
    if problem is None:
        try:
            return grade_notebook(find_notebook(folder), student, hide=hide, suites=suites)
        except GradingError as error:
            problem = str(error)
    return zero_report(student, folder, problem)
