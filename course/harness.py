"""Grade notebooks with the hidden suites: one submission (`grade_notebook`) or a course (`grade_course`).

The hidden suites run in a pytest process of their own per submission (so that nothing one
submission does can stop the grading of the others); each suite runs the student's code only
through `course.sandbox.run_probe`. A component's points are its points times the passed share of
its tests' weights. Reports go to `reports/<assignment>/`: per student JSON and Markdown feedback,
and `grades.csv` / `grades.json` for everyone; `course.gradebook` then records the same scores in
nbgrader's gradebook.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from course.components import ASSIGNMENT, BY_ID, COMPONENTS, NOTEBOOK, TOTAL_POINTS
from course.notebook import NotebookError, extract_definitions
from course.sandbox import HIDE_VARIABLE, LOG_VARIABLE, Limits, SandboxError

REPO = Path(__file__).resolve().parents[1]
HIDDEN_SUITES = REPO / "tests" / "hidden"
PYTEST_SECONDS_PER_COMPONENT = Limits().seconds + 30  # a probe's own limit, plus pytest's work
SANDBOX_BROKEN = "the check could not be completed: SandboxError"  # only trusted test code can raise it


class GradingError(ValueError):
    """Input the grader cannot work with; the message says what was wrong and what was expected."""


@dataclass
class TestOutcome:
    test: str
    weight: float
    passed: bool
    message: str  # for the student: what was expected and what came back (empty when passed)


@dataclass
class ComponentResult:
    id: str
    title: str
    points: float
    max_points: int
    tests: list[TestOutcome] = field(default_factory=list)
    reason: str | None = None  # why the student's code could not be checked (timeout, crash, ...)

    def feedback(self) -> str:
        """Plain-text lines for a notebook cell's output: the points, then each check."""
        lines = [f"{self.title}: {self.points:g} / {self.max_points} points"]
        lines += [f"Could not check your code: {self.reason}"] if self.reason else []
        lines += [f"  ok      {t.test}" if t.passed else f"  FAILED  {t.test}: {t.message}" for t in self.tests]
        return "\n".join(lines) + "\n"


@dataclass
class SubmissionReport:
    student: str
    notebook: str
    total: float = 0.0
    max_total: int = TOTAL_POINTS
    components: list[ComponentResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cells that did not load (syntax errors, ...)
    protections: list[str] = field(default_factory=list)  # sandbox measures active while grading
    seconds: float = 0.0
    reason: str | None = None  # why nothing could be graded (e.g. the notebook is not valid JSON)
    sha256: str = ""  # of the graded notebook file
    graded_at: str = ""

    def points(self, component: str) -> float:
        return next((c.points for c in self.components if c.id == component), 0.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> SubmissionReport:
        data = json.loads(text)
        data["components"] = [ComponentResult(**{**c, "tests": [TestOutcome(**t) for t in c["tests"]]})
                              for c in data["components"]]
        return cls(**data)

    def to_markdown(self) -> str:
        """Feedback a student can act on: points per component, and what each failing check saw."""
        lines = [f"# TinyGPT feedback for {self.student}", "", f"**Total: {self.total:g} / {self.max_total}**", ""]
        if self.reason:
            lines += [f"Your notebook could not be graded: {self.reason}", ""]
        if self.problems:
            lines += ["Parts of your notebook did not load:", *(f"- {problem}" for problem in self.problems), ""]
        if self.components:
            lines += ["| component | points |", "|---|---|"]
            lines += [f"| {c.title} | {c.points:g} / {c.max_points} |" for c in self.components]
        for c in self.components:
            failing = [t for t in c.tests if not t.passed]
            if failing or c.reason:
                lines += ["", f"## {c.title} ({c.points:g} / {c.max_points})"]
                lines += [f"Could not check your code: {c.reason}"] if c.reason else []
                lines += [f"- `{t.test}`: {t.message}" for t in failing]
        return "\n".join(lines) + "\n"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
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
        command = [sys.executable, "-m", "pytest", *suites, "-p", "course.pytest_plugin", "-p", "no:cacheprovider",
                   "-o", "addopts=", "-q", "--assert=plain", "--rootdir", str(REPO),
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
    report = SubmissionReport(student, str(notebook), graded_at=_now(),
                              max_total=sum(BY_ID[id].points for id in ids))
    try:
        report.problems = extract_definitions(notebook).problems
        report.sha256 = _sha256(notebook)
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


def _grade_submission(folder: Path, student: str, hide: tuple[Path, ...], suites: Path) -> SubmissionReport:
    try:
        notebook = find_notebook(folder)
    except GradingError as error:
        return SubmissionReport(student, str(folder), reason=str(error),
                                graded_at=_now(),
                                components=[ComponentResult(c.id, c.title, 0.0, c.points) for c in COMPONENTS])
    return grade_notebook(notebook, student, hide=hide, suites=suites)


def _save(report: SubmissionReport, reports: Path) -> None:
    """Write the student's JSON and Markdown report; a previous report is kept under `previous/`."""
    target = reports / f"{report.student}.json"
    if target.exists():
        stamp = datetime.fromtimestamp(target.stat().st_mtime, UTC).strftime("%Y%m%dT%H%M%S")
        archive = reports / "previous" / f"{report.student}-{stamp}.json"
        archive.parent.mkdir(exist_ok=True)
        target.replace(archive)
    target.write_text(report.to_json())
    (reports / f"{report.student}.md").write_text(report.to_markdown())


def write_grade_tables(reports: list[SubmissionReport], folder: Path) -> None:
    """`grades.csv` (one row per student, one column per component, total) and `grades.json`."""
    ids = [c.id for c in COMPONENTS]
    with open(folder / "grades.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student", *ids, "total", "reason"])
        for r in reports:
            writer.writerow([r.student, *(f"{r.points(id):g}" for id in ids), f"{r.total:g}", r.reason or ""])
    table = {r.student: {"total": r.total, "components": {id: r.points(id) for id in ids}, "reason": r.reason}
             for r in reports}
    (folder / "grades.json").write_text(json.dumps(table, indent=1))


def _submissions(course_dir: Path, assignment: str) -> dict[str, Path]:
    if assignment != ASSIGNMENT:
        raise GradingError(f"unknown assignment {assignment!r}; this course has one assignment, {ASSIGNMENT!r}")
    submitted = course_dir / "submitted"
    if not submitted.is_dir():
        raise GradingError(f"{course_dir}: no submitted/ folder; expected nbgrader's layout "
                           f"submitted/<student>/{assignment}/{NOTEBOOK}")
    folders = {d.name: d / assignment for d in sorted(submitted.iterdir()) if (d / assignment).is_dir()}
    if not folders:
        raise GradingError(f"{submitted}: no submissions; expected folders <student>/{assignment}/ with {NOTEBOOK}")
    return folders


def grade_course(course_dir: Path, assignment: str = ASSIGNMENT, force: bool = False, jobs: int = 2,
                 progress: bool = True, nbgrader: bool = True, suites: Path = HIDDEN_SUITES,
                 students: list[str] | None = None) -> list[SubmissionReport]:
    """Grade every `submitted/<student>/<assignment>/` notebook, `jobs` at a time; one report per student.

    `students` limits the grading to those students (the demo grades only its own samples); the grade
    tables still list everyone graded so far.

    Students with a report are not regraded unless `force` (then the old report is kept under
    `reports/<assignment>/previous/`). `suites`: the folder of hidden suites (tests pass their own).
    With `nbgrader`, the scores of the newly graded are recorded in
    nbgrader's gradebook, with feedback and `reports/<assignment>/nbgrader_grades.csv` (an unreadable
    notebook gets its zero in the reports only: nbgrader cannot open it either).
    """
    course_dir = Path(course_dir).resolve()
    folders = _submissions(course_dir, assignment)
    chosen = set(folders if students is None else students)
    reports_dir = course_dir / "reports" / assignment
    reports_dir.mkdir(parents=True, exist_ok=True)
    kept: dict[str, SubmissionReport] = {}
    for student, folder in folders.items():
        existing = reports_dir / f"{student}.json"
        if existing.exists() and (not force or student not in chosen):
            kept[student] = SubmissionReport.from_json(existing.read_text())
            if student in chosen:
                changed = any(_sha256(n) != kept[student].sha256 for n in folder.glob(NOTEBOOK))
                note = " (the submission changed since then!)" if changed else ""
                print(f"{student}: already graded{note}; kept the report; use force to regrade", file=sys.stderr)
    todo = [student for student in folders if student not in kept and student in chosen]
    graded: dict[str, SubmissionReport] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each grading runs in its own processes
        futures = {pool.submit(_grade_submission, folders[s], s, (course_dir,), suites): s for s in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc="grading", disable=not progress):
            report = future.result()
            _save(report, reports_dir)
            graded[report.student] = report
    reports = [kept.get(student) or graded[student] for student in folders if student in kept or student in graded]
    write_grade_tables(reports, reports_dir)
    unreadable = sorted(student for student, report in graded.items() if report.reason)
    for student in unreadable:
        print(f"{student}: zero, not recorded in nbgrader's gradebook: {graded[student].reason}", file=sys.stderr)
    readable = sorted(set(graded) - set(unreadable))
    if nbgrader and readable:
        from course.gradebook import record_in_gradebook

        record_in_gradebook(course_dir, assignment, readable, reports_dir)
    return reports


def format_table(reports: list[SubmissionReport]) -> str:
    """A score table: one row per student, one column per component, and the total."""
    ids = [c.id for c in COMPONENTS]
    name_width = max([len("student"), *(len(r.student) for r in reports)])
    header = ["student".ljust(name_width), *ids, "total"]
    rows = [[r.student.ljust(name_width), *(f"{r.points(id):g}".rjust(len(id)) for id in ids),
             f"{r.total:g}".rjust(5)] for r in reports]
    return "\n".join("  ".join(row) for row in [header, *rows])
