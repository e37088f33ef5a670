"""Build what is generated from the instructor notebook: the student release and the reference solutions.

`source/<assignment>/` is the one source of truth. nbgrader turns it into `release/<assignment>/`
(solutions replaced by stubs, hidden tests removed) and `course.solutions.export_solutions` turns its
definitions into `solutions/<assignment>.py`. `out_of_sync` rebuilds both in a temporary course folder
and names the committed files that differ, so that a release nobody rebuilt cannot go unnoticed.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from course.components import ASSIGNMENT, NOTEBOOK
from course.notebook import read_cells

REPO = Path(__file__).resolve().parents[1]  # holds nbgrader_config.py


class CourseError(ValueError):
    """Bad input from the instructor (a missing folder, an unknown assignment); the message says what was expected."""


def require_assignment(course_dir: Path, assignment: str) -> Path:
    """The assignment's source folder `source/<assignment>/`; `CourseError` when there is none."""
    folder = course_dir / "source" / assignment
    if not folder.is_dir():
        known = sorted(p.name for p in (course_dir / "source").glob("*") if p.is_dir())
        raise CourseError(f"unknown assignment {assignment!r}: expected a folder {folder} "
                          f"(assignments found: {', '.join(known) or 'none'})")
    return folder


def generate_release(course_dir: Path = REPO, assignment: str = ASSIGNMENT, db_url: str | None = None) -> Path:
    """`nbgrader generate_assignment <assignment>` into a scratch folder, then `release/<assignment>` replaced by
    it; returns `release/<assignment>`. A failure leaves release/ as it was.

    The assignment is recorded in the course's gradebook (`course.grading.database.gradebook_url`, the one
    `course grade` reads) or in `db_url`.
    """
    from course.grading.gradebook import generate_assignment

    read_cells(require_assignment(course_dir, assignment) / NOTEBOOK)  # a clear error for a broken notebook
    release = Path(course_dir) / "release" / assignment
    with tempfile.TemporaryDirectory(prefix="course-release-") as scratch:
        fresh = generate_assignment(course_dir, assignment, Path(scratch), db_url=db_url)
        if not (fresh / NOTEBOOK).is_file():
            raise CourseError(f"nbgrader generate_assignment {assignment} wrote no {NOTEBOOK}")
        if release.exists():
            shutil.rmtree(release)
        shutil.copytree(fresh, release)
    return release


def export_reference(course_dir: Path = REPO, assignment: str = ASSIGNMENT, out_dir: Path | None = None) -> Path:
    """Write `<out_dir>/<assignment>.py` (default: the course's `solutions/`) from the source notebook."""
    from course.solutions import export_solutions

    target = (out_dir or course_dir / "solutions") / f"{assignment}.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    export_solutions(require_assignment(course_dir, assignment) / NOTEBOOK, target)
    return target


def build(course_dir: Path = REPO, assignment: str = ASSIGNMENT) -> tuple[Path, Path]:
    """Regenerate the release and the reference solutions; returns (release folder, solutions module)."""
    return generate_release(course_dir, assignment), export_reference(course_dir, assignment)


def scratch_course(course_dir: Path, target: Path, assignment: str = ASSIGNMENT) -> Path:
    """`target` made afresh as a course folder holding only the assignment's source/ and release/ and the
    course's nbgrader_config.py (no submissions, no gradebook): somewhere to grade samples without touching
    the real course, where plain nbgrader commands work too."""
    shutil.rmtree(target, ignore_errors=True)
    for step in ("source", "release"):
        shutil.copytree(Path(course_dir) / step / assignment, target / step / assignment)
    config = Path(course_dir) / "nbgrader_config.py"
    shutil.copy(config if config.is_file() else REPO / config.name, target / config.name)
    return target


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()


def _differences(fresh: Path, committed: Path, label: str) -> list[str]:
    """How the committed folder differs from the freshly built one, each file named `label/<relative path>`."""
    built, kept = _files(fresh), _files(committed)
    problems = [f"{label}/{p} is missing" for p in sorted(built - kept)]
    problems += [f"{label}/{p} is not produced by the build" for p in sorted(kept - built)]
    problems += [f"{label}/{p} differs from a fresh build" for p in sorted(built & kept)
                 if not filecmp.cmp(fresh / p, committed / p, shallow=False)]
    return problems


def out_of_sync(course_dir: Path = REPO, assignment: str = ASSIGNMENT) -> list[str]:
    """Rebuild release and solutions from `source/` in a temporary folder and list what differs ([] = in sync)."""
    source = require_assignment(course_dir, assignment)
    with tempfile.TemporaryDirectory(prefix="course-build-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(source, scratch / "source" / assignment)
        generate_release(scratch, assignment, db_url=f"sqlite:///{scratch / 'gradebook.db'}")
        release = f"release/{assignment}"
        problems = _differences(scratch / release, course_dir / release, release)
    return problems + solutions_out_of_sync(course_dir, assignment)


def solutions_out_of_sync(course_dir: Path = REPO, assignment: str = ASSIGNMENT) -> list[str]:
    """`["solutions/<assignment>.py differs from a fresh build"]`, or [] when it is what the export writes."""
    with tempfile.TemporaryDirectory(prefix="course-solutions-") as tmp:
        fresh = export_reference(course_dir, assignment, out_dir=Path(tmp))
        committed = course_dir / "solutions" / fresh.name
        if committed.is_file() and filecmp.cmp(fresh, committed, shallow=False):
            return []
    return [f"solutions/{fresh.name} differs from a fresh build"]
