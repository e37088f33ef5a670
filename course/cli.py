"""`course`: the instructor's commands, one subcommand per step of the course's life.

Every subcommand works on a course folder (default: this repository) laid out as nbgrader expects:
`source/`, `release/`, `submitted/<student>/<assignment>/`. Bad input (a missing folder, an unknown
assignment, a broken notebook) ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from tqdm import tqdm

from course.build import REPO, CourseError, build, out_of_sync, require_assignment, scratch_course
from course.components import ASSIGNMENT, BY_ID, NOTEBOOK
from course.grading.batch import Grader, grade_course
from course.grading.database import URL_VARIABLE
from course.grading.exports import changes_line
from course.grading.gradebook import final_grades_of
from course.grading.harness import grade_notebook
from course.grading.report import GradingError, format_table
from course.handout import build_handout
from course.mutants import MutantError, mutant_submission, mutants
from course.notebook import NotebookError
from course.submissions import fill_release, write_submission
from course.train import register as register_training

USER_ERRORS = (CourseError, GradingError, MutantError, NotebookError)

# The demo's partial submission solves the parts up to and including this component, and no others.
DEMO_PARTIAL_LAST = "multi_head_attention"
DEMO_DIR = "demo"  # the demo's scratch course folder, inside the course folder (git-ignored; rebuilt by each demo)


def _notebooks(course_dir: Path, assignment: str) -> tuple[Path, Path]:
    """(source notebook, release notebook) of the assignment; `CourseError` if the release is missing."""
    source = require_assignment(course_dir, assignment) / NOTEBOOK
    release = course_dir / "release" / assignment / NOTEBOOK
    if not release.is_file():
        raise CourseError(f"no release notebook: expected {release} (run `course build` first)")
    return source, release


def solution_ids_before(source: Path, component: str) -> set[str]:
    """Grade ids of the solution cells that come before `component`'s graded cell in the source notebook."""
    ids = set()
    for cell in nbformat.read(source, as_version=4).cells:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if nbgrader.get("grade_id") == BY_ID[component].grade_id:
            return ids
        if nbgrader.get("solution"):
            ids.add(nbgrader["grade_id"])
    raise CourseError(f"{source} has no graded cell {BY_ID[component].grade_id!r}; expected one per component")


def run_build(args: argparse.Namespace) -> int:
    release, solutions = build(args.course_dir, args.assignment)
    print(f"release:   {release}\nsolutions: {solutions}")
    return 0


def _grade_one(notebook: Path, hide: Path):
    """Grade `<folder>/<student>/<assignment>/<notebook>` as that student, with `hide` out of the sandbox's view."""
    return grade_notebook(notebook, notebook.parents[1].name, hide=(hide,))


def _grade_all(paths: list[Path], hide: Path, jobs: int) -> list:
    """Grade each notebook, `jobs` at a time, in order of `paths`."""
    # Processes, not threads: CPython 3.11's ast.parse (the notebook loader) is not thread-safe.
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = pool.map(_grade_one, paths, [hide] * len(paths))
        return list(tqdm(graded, total=len(paths), desc="grading"))


def _scores(total: float) -> Callable:
    return lambda report: None if report.total == total else f"scored {report.total:g}, expected {total}"


def _docked_only(breaks: tuple[str, ...]) -> Callable:
    """A mutant must lose points on every component in `breaks` and keep every other component whole."""
    def problem(report) -> str | None:
        whole = [c.id for c in report.components if c.id in breaks and c.points >= c.max_points]
        lost = [f"{c.id} {c.points - c.max_points:g}" for c in report.components
                if c.id not in breaks and c.points < c.max_points]
        problems = [f"kept full points on {', '.join(whole)}"] if whole else []
        problems += [f"also docked on {', '.join(lost)}"] if lost else []
        return "; ".join(problems) or None
    return problem


def _submission_checks(course_dir: Path, assignment: str, scratch: Path, jobs: int) -> list[tuple[str, str | None]]:
    """Grade the reference, the untouched release and every mutant; one (check, problem or None) row each."""
    source, release = _notebooks(course_dir, assignment)
    cases = [("reference submission scores 100", fill_release(release, source), _scores(100)),
             ("untouched release scores 0", nbformat.read(release, as_version=4), _scores(0))]
    cases += [(f"mutant {m.id} docked on {', '.join(m.breaks)} only", mutant_submission(m, release, source),
               _docked_only(m.breaks)) for m in mutants()]
    paths = [write_submission(notebook, scratch, f"check-{i}", assignment) for i, (_, notebook, _) in enumerate(cases)]
    reports = _grade_all(paths, course_dir, jobs)
    return [(name, problem(report)) for (name, _, problem), report in zip(cases, reports, strict=True)]


def run_check(args: argparse.Namespace) -> int:
    problems = out_of_sync(args.course_dir, args.assignment)
    rows = [(f"release/ and solutions/ match a fresh build of source/{args.assignment}", "; ".join(problems) or None)]
    with tempfile.TemporaryDirectory(prefix="course-check-") as scratch:
        rows += _submission_checks(args.course_dir, args.assignment, Path(scratch), args.jobs)
    for name, problem in rows:
        print(f"FAIL  {name}: {problem}" if problem else f"ok    {name}")
    failures = sum(problem is not None for _, problem in rows)
    print(f"{len(rows) - failures} passed, {failures} failed")
    return 1 if failures else 0


def _require_submissions(course_dir: Path, assignment: str, students: list[str] | None = None) -> Path:
    require_assignment(course_dir, assignment)
    submitted = course_dir / "submitted"
    if not submitted.is_dir():
        raise CourseError(f"no submissions: expected a folder {submitted} holding <student>/{assignment}/{NOTEBOOK}")
    missing = [student for student in students or [] if not (submitted / student / assignment).is_dir()]
    if missing:
        raise CourseError(f"no submission for {', '.join(missing)}: expected {submitted}/<student>/{assignment}/")
    return submitted


def _grade_and_show(args: argparse.Namespace, force: bool, students: list[str] | None = None,
                    grader: Grader | None = None) -> None:
    options = args.nbgrader_options
    reports = grade_course(args.course_dir, args.assignment, force=force, jobs=args.jobs, students=students,
                           grader=grader, nbgrader_options=options)
    print(format_table(reports))
    changed = [grade for grade in final_grades_of(args.course_dir, args.assignment, reports, options) if grade.adjusted]
    if changed:
        print("changed in the gradebook (these totals are the ones in every table and report):")
        print("\n".join(f"  {g.student}: {g.autograder_total:g} -> {g.total:g} ({changes_line(g)})" for g in changed))
    # dict.fromkeys: in order, once each; the throwaway uid differs per run
    protections = dict.fromkeys(re.sub(r"uid \d+", "uid", p) for report in reports for p in report.protections)
    print("sandbox protections in these runs:\n" + "\n".join(f"  - {p}" for p in protections))
    written = args.course_dir / "reports" / args.assignment
    print(f"feedback per student: {written}/<student>.md and {args.course_dir / 'feedback'}/ (nbgrader's HTML)")
    print(f"grades: {written / 'grades.csv'}, {written / 'grades.json'}, {written / 'nbgrader_grades.csv'}; "
          f"for an LMS: {written / 'canvas.csv'}, {written / 'moodle.csv'}")


def run_grade(args: argparse.Namespace) -> int:
    _require_submissions(args.course_dir, args.assignment, args.students)
    if args.scheduler is None:
        _grade_and_show(args, force=args.force, students=args.students)
        return 0
    from course.grading.cluster import ClusterGrader  # imports Dask: only when asked for

    with ClusterGrader.connect(args.scheduler, allow_weak_sandbox=args.allow_weak_sandbox) as grader:
        _grade_and_show(args, force=args.force, students=args.students, grader=grader)
    for student, why in sorted(grader.lost.items()):
        print(f"{student}: not graded ({why}); run `course grade` again to grade it", file=sys.stderr)
    return 1 if grader.lost else 0


def run_demo(args: argparse.Namespace) -> int:
    run_build(args)
    demo = argparse.Namespace(**{**vars(args), "course_dir": scratch_course(args.course_dir, args.course_dir / DEMO_DIR,
                                                                            args.assignment)})
    source, release = _notebooks(demo.course_dir, args.assignment)
    samples = {
        "demo-reference": fill_release(release, source),
        "demo-untouched": nbformat.read(release, as_version=4),
        "demo-partial": fill_release(release, source, grade_ids=solution_ids_before(source, DEMO_PARTIAL_LAST)),
    }
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")  # nbgrader's format
    for student, notebook in samples.items():
        folder = write_submission(notebook, demo.course_dir / "submitted", student, args.assignment).parent
        # what nbgrader's submit writes beside the notebook, and release_feedback reads
        (folder / "timestamp.txt").write_text(stamp)
        (folder / "submission_secret.txt").write_text(secrets.token_hex(16))
    print(f"grading {', '.join(samples)} in the scratch course {demo.course_dir} (its own gradebook.db; "
          f"{args.course_dir}'s submissions and gradebook are left alone)...")
    with _own_gradebook():
        _grade_and_show(demo, force=True)
    return 0


@contextmanager
def _own_gradebook() -> Iterator[None]:
    """Within: NBGRADER_DB_URL unset, so that a course folder's gradebook is its own gradebook.db."""
    url = os.environ.pop(URL_VARIABLE, None)
    try:
        yield
    finally:
        if url is not None:
            os.environ[URL_VARIABLE] = url


def run_handout(args: argparse.Namespace) -> int:
    archive = build_handout(args.course_dir, args.assignment)
    print(f"handout: {archive.with_suffix('')}/\narchive: {archive}")
    return 0


def run_gradescope(args: argparse.Namespace) -> int:
    from course.gradescope import build_autograder

    archive = build_autograder(args.course_dir, args.assignment, args.output)
    print(f"Gradescope autograder: {archive}\nupload it as the assignment's autograder (docs/gradescope.md)")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="course", description="Instructor commands for the TinyGPT course.")
    top.add_argument("--course-dir", type=Path, default=REPO, help="the course folder (default: this repository)")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str, jobs: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--assignment", default=ASSIGNMENT, help=f"assignment name (default: {ASSIGNMENT})")
        if jobs:
            sub.add_argument("--jobs", type=int, default=2, help="submissions graded in parallel (default: 2)")
        sub.set_defaults(func=run)
        return sub

    command("build", run_build, "regenerate release/ and solutions/ from source/")
    command("check", run_check, "prove release, solutions, tests and mutants agree", jobs=True)
    grade = command("grade", run_grade, "grade submitted/, write feedback and grade tables", jobs=True)
    grade.add_argument("--force", action="store_true", help="regrade students who were graded before")
    grade.add_argument("--student", action="append", dest="students", metavar="ID",
                       help="grade only this student (repeat for several); the tables still list everyone")
    grade.epilog = ("nbgrader's own options (--Class.trait=value, e.g. --LateSubmissionPlugin.penalty_method=zero) "
                    "are passed to its autograde, after the site-wide, user and course nbgrader_config.py files.")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on the workers of this Dask scheduler instead of locally (docs/cluster.md)")
    grade.add_argument("--allow-weak-sandbox", action="store_true",
                       help="with --scheduler: also use workers whose sandbox lacks a protection this machine's has")
    command("demo", run_demo, "build, grade three sample submissions, show scores", jobs=True)
    command("handout", run_handout, "build dist/handout.zip: what students receive")
    gradescope = command("gradescope", run_gradescope, "build dist/gradescope-<assignment>.zip, the autograder")
    gradescope.add_argument("--output", type=Path, help="where to write the zip")
    register_training(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    args, unknown = top.parse_known_args(argv)
    if unknown and args.command != "grade":
        top.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.nbgrader_options = unknown  # `course grade` passes nbgrader's --Class.trait=value options on
    args.course_dir = args.course_dir.resolve()
    try:
        return args.func(args)
    except USER_ERRORS as error:
        print(f"course {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
