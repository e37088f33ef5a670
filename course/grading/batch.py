"""Grade a course: every `submitted/<student>/<assignment>/` notebook through the harness, then the
reports, grade tables and nbgrader's gradebook.

The harness (`course.grading.harness`) computes each submission's report; this module saves them
and hands them to the gradebook (`course.grading.gradebook`). Neither of those imports this one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from tqdm import tqdm

from course.components import ASSIGNMENT, NOTEBOOK
from course.grading.gradebook import check_before_grading, record_in_gradebook, write_from_gradebook
from course.grading.harness import HIDDEN_SUITES, grade_submission, zero_report
from course.grading.intake import check_folder, check_student_id, file_sha256, take_in
from course.grading.locks import course_lock
from course.grading.report import PREVIOUS, GradingError, SubmissionReport, one_line, write_grade_tables
from course.grading.structure import match_release

# How submissions are graded: (student -> folder, folders to hide, suites) -> each report as it is done.
# `grade_locally(jobs)` here; `course.grading.cluster.ClusterGrader` on a Dask cluster.
Grader = Callable[[dict[str, Path], tuple[Path, ...], Path], Iterator[SubmissionReport]]


def grade_locally(jobs: int) -> Grader:
    """Grade on this machine, `jobs` submissions at a time (each grading runs in its own processes)."""
    def grade(folders: dict[str, Path], hide: tuple[Path, ...], suites: Path) -> Iterator[SubmissionReport]:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(grade_submission, folder, student, hide, suites)
                       for student, folder in folders.items()]
            for future in as_completed(futures):
                yield future.result()
    return grade


def _save(report: SubmissionReport, reports: Path) -> None:
    """Write the student's JSON and Markdown report; a previous report is kept under `previous/`."""
    target = reports / f"{report.student}.json"
    if target.exists():
        stamp = datetime.fromtimestamp(target.stat().st_mtime, UTC).strftime("%Y%m%dT%H%M%S")
        archive = reports / PREVIOUS / f"{report.student}-{stamp}.json"
        archive.parent.mkdir(exist_ok=True)
        target.replace(archive)
    target.write_text(report.to_json())
    (reports / f"{report.student}.md").write_text(report.to_markdown())


def _note_structure(report: SubmissionReport, master: nbformat.NotebookNode | None) -> None:
    """Add to the report's problems how the notebook's nbgrader cells differ from the release `master` (what
    nbgrader's record restores; the harness graded the code as submitted)."""
    if report.reason or master is None:
        return
    submitted = take_in(Path(report.notebook)).notebook
    if submitted is not None:  # else it changed since the harness read it: nothing to add
        _, problems = match_release(submitted, master)
        report.problems += [f"graded cells: {problem}" for problem in problems]


def _say_already_graded(folders: dict[str, Path], kept: dict[str, SubmissionReport]) -> None:
    """One line for all the students kept as graded, naming those whose submission changed since."""
    if not folders:
        return
    changed = [s for s, folder in folders.items()
               if any(file_sha256(n) != kept[s].sha256 for n in folder.glob(NOTEBOOK))]
    names = f" ({', '.join(folders)})" if len(folders) <= 3 else ""
    note = f"; the submission changed since then for {', '.join(changed)}!" if changed else ""
    print(f"{len(folders)} already graded{names}: kept the reports{note}; use force to regrade", file=sys.stderr)


def _submissions(course_dir: Path, assignment: str) -> dict[str, Path]:
    if assignment != ASSIGNMENT:
        raise GradingError(f"unknown assignment {assignment!r}; this course has one assignment, {ASSIGNMENT!r}")
    submitted = course_dir / "submitted"
    if not submitted.is_dir():
        raise GradingError(f"{course_dir}: no submitted/ folder; expected nbgrader's layout "
                           f"submitted/<student>/{assignment}/{NOTEBOOK}")
    folders = {d.name: d / assignment for d in sorted(submitted.iterdir()) if (d / assignment).is_dir()}  # links too:
    # they are refused with a reason (`intake.check_folder`), as are folder names that cannot be student ids
    if not folders:
        raise GradingError(f"{submitted}: no submissions; expected folders <student>/{assignment}/ with {NOTEBOOK}")
    return folders


def grade_course(course_dir: Path, assignment: str = ASSIGNMENT, force: bool = False, jobs: int = 2,
                 progress: bool = True, nbgrader: bool = True, suites: Path = HIDDEN_SUITES,
                 students: list[str] | None = None, grader: Grader | None = None,
                 nbgrader_options: list[str] = ()) -> list[SubmissionReport]:
    """Grade every `submitted/<student>/<assignment>/` notebook, `jobs` at a time; one report per student.

    `grader` chooses how (default: `grade_locally(jobs)`; a `ClusterGrader` grades on a Dask cluster).

    `students` limits the grading to those students (the demo grades only its own samples); the grade
    tables still list everyone graded so far.

    One grader at a time per course folder (`course.grading.locks.course_lock`: a second one waits).
    Students with a report are not regraded unless `force` (then the old report is kept under
    `reports/<assignment>/previous/`). `suites`: the folder of hidden suites (tests pass their own).
    With `nbgrader`, the scores of the newly graded are recorded in
    nbgrader's gradebook, with feedback (an unreadable notebook gets its zero in the reports only: nbgrader
    cannot open it either), and the tables and reports are derived from the gradebook (a grader's overrides,
    comments, late penalties: `gradebook.write_from_gradebook`); `nbgrader_options` are nbgrader's
    command-line options (`--LateSubmissionPlugin.penalty_method=zero`). The gradebook is checked first.
    """
    course_dir = Path(course_dir).resolve()
    folders = _submissions(course_dir, assignment)
    if nbgrader:  # a wrong password or a dead server stops here, before any report is written
        check_before_grading(course_dir, nbgrader_options)
    with course_lock(course_dir):
        return _grade_locked(course_dir, assignment, folders, force, jobs, progress, nbgrader, suites, students,
                            grader, nbgrader_options)


def _grade_locked(course_dir: Path, assignment: str, folders: dict[str, Path], force: bool, jobs: int,
                  progress: bool, nbgrader: bool, suites: Path, students: list[str] | None,
                  grader: Grader | None, nbgrader_options: list[str]) -> list[SubmissionReport]:
    bad_ids = {student: problem for student in folders if (problem := check_student_id(student))}
    folders = {student: folder for student, folder in folders.items() if student not in bad_ids}
    chosen = set(folders if students is None else students)
    reports_dir = course_dir / "reports" / assignment
    reports_dir.mkdir(parents=True, exist_ok=True)
    kept: dict[str, SubmissionReport] = {}
    for student in folders:
        existing = reports_dir / f"{student}.json"
        if existing.exists() and (not force or student not in chosen):
            kept[student] = SubmissionReport.from_json(existing.read_text())
    _say_already_graded({s: folders[s] for s in kept if s in chosen}, kept)
    todo = [student for student in folders if student not in kept and student in chosen]
    refused = {student: problem for student in todo if (problem := check_folder(folders[student]))}
    graded: dict[str, SubmissionReport] = {}
    for student, problem in refused.items():
        graded[student] = zero_report(student, folders[student], problem)
        _save(graded[student], reports_dir)
    sent = {s: folders[s] for s in todo if s not in refused}
    master = take_in(course_dir / "release" / assignment / NOTEBOOK).notebook  # read once for the whole batch
    reports_arriving = (grader or grade_locally(jobs))(sent, (course_dir,), suites)
    for report in tqdm(reports_arriving, total=len(sent), desc="grading", disable=not progress):
        _note_structure(report, master)
        _save(report, reports_dir)
        graded[report.student] = report
    reports = [kept.get(student) or graded[student] for student in folders if student in kept or student in graded]
    zeroed = sorted(student for student, report in graded.items() if report.reason)
    _summary(bad_ids, {student: graded[student].reason for student in zeroed})
    if not nbgrader:
        write_grade_tables(reports, reports_dir)
        return reports
    readable = sorted(set(graded) - set(zeroed))
    problems = record_in_gradebook(course_dir, assignment, readable, reports_dir, nbgrader_options) if readable else []
    write_from_gradebook(course_dir, assignment, reports, reports_dir, nbgrader_options)
    if problems:  # every other student is recorded; these lines say who is not and why
        raise GradingError(f"{len(problems)} of {len(readable)} not recorded in nbgrader's gradebook: "
                           + " | ".join(problems))
    return reports


def _summary(bad_ids: dict[str, str], zeroed: dict[str, str]) -> None:
    """One line on stderr per folder not graded (its name is no student id) and per student zeroed as a whole
    (file invalid, oversized or refused, grading stopped): these have no row in nbgrader's gradebook."""
    for student, problem in bad_ids.items():
        print(f"submitted/{one_line(repr(student), 120)}: not graded: {problem}", file=sys.stderr)
    for student, reason in zeroed.items():
        print(f"{student}: zero (reports only, not nbgrader's gradebook): {reason}", file=sys.stderr)
