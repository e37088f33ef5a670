"""Record the harness's scores in nbgrader's gradebook, so `nbgrader export`, feedback and the formgrader agree.

`nbgrader autograde` runs with its Execute preprocessor replaced by
`course.grading.nbgrader_hooks.FillHarnessScores`: no student code runs, each hidden grade cell gets the
harness's points, and nbgrader stores them as usual. Then feedback is generated and the grades
exported; finally the gradebook is read back and compared with the reports.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import Autograde
from nbgrader.plugins import CsvExportPlugin
from sqlalchemy.exc import SAWarning
from traitlets.config import Config, PyFileConfigLoader

from course.grading.nbgrader_hooks import HIDDEN_PREFIX
from course.grading.report import GradingError, SubmissionReport

REPO = Path(__file__).resolve().parents[2]
EXECUTE = "nbgrader.preprocessors.Execute"
FILL = "course.grading.nbgrader_hooks.FillHarnessScores"


def _put_python_scripts_on_path() -> None:
    """nbgrader's Gradebook runs the `alembic` command found on PATH: make it the one beside this Python
    (a virtual environment used without activating it has its scripts off PATH)."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])


def nbgrader_config(course_dir: Path, reports_dir: Path) -> Config:
    """The course's nbgrader configuration (its own nbgrader_config.py, else this repository's), with
    Execute replaced by FillHarnessScores."""
    _put_python_scripts_on_path()
    course_dir = Path(course_dir).resolve()
    own = course_dir / "nbgrader_config.py"
    path = own if own.is_file() else REPO / "nbgrader_config.py"
    config = PyFileConfigLoader(path.name, str(path.parent)).load_config()
    config.CourseDirectory.root = str(course_dir)
    if not own.is_file():  # the repository's file points at the repository's gradebook
        config.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    steps = [step if isinstance(step, str) else f"{step.__module__}.{step.__name__}"
             for step in config.Autograde.get("autograde_preprocessors", default)]
    if EXECUTE not in steps:
        raise GradingError(f"{path}: Autograde.autograde_preprocessors has no {EXECUTE} to replace; "
                           f"expected nbgrader's list (it is where the harness's scores go in)")
    config.Autograde.autograde_preprocessors = [FILL if step == EXECUTE else step for step in steps]
    config.FillHarnessScores.reports = str(reports_dir)
    return config


def gradebook_scores(db_url: str, assignment: str, student: str) -> dict[str, float]:
    """component id -> score in nbgrader's gradebook for one student's autograded submission."""
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {grade.name.removeprefix(HIDDEN_PREFIX): grade.score
                for notebook in submission.notebooks for grade in notebook.grades
                if grade.name.startswith(HIDDEN_PREFIX)}


def record_in_gradebook(course_dir: Path, assignment: str, students: list[str], reports_dir: Path) -> None:
    """Autograde (without executing), generate feedback and export CSV for `students`; verify the scores."""
    api = NbGraderAPI(config=nbgrader_config(course_dir, reports_dir))
    db_url = api.coursedir.db_url
    missing = GradingError(f"nbgrader's gradebook ({db_url}) has no assignment {assignment!r}; "
                           f"build the release first (nbgrader generate_assignment {assignment})")
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).is_file():
        raise missing  # opening it would create an empty gradebook
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise missing from None
    for student in students:
        for step in (api.autograde, api.generate_feedback):
            with warnings.catch_warnings():  # nbgrader 0.9.6's autograde trips harmless SQLAlchemy autoflush warnings
                warnings.simplefilter("ignore", SAWarning)
                result = step(assignment, student, force=True)
            if not result["success"]:
                last = (result.get("error") or result.get("log") or "no details").strip().splitlines()[-1]
                raise GradingError(f"nbgrader {step.__name__} failed for {student}: {last}")
        report = SubmissionReport.from_json((reports_dir / f"{student}.json").read_text())
        recorded = gradebook_scores(db_url, assignment, student)
        expected = {c.id: c.points for c in report.components}
        wrong = [id for id in recorded if abs(recorded[id] - expected.get(id, 0.0)) > 1e-6]
        lost = [id for id, points in expected.items() if points > 0 and id not in recorded]  # no grade cell
        if wrong or lost:
            raise GradingError(f"nbgrader's gradebook disagrees with the harness for {student}: "
                               f"gradebook {recorded}, harness {expected}")
    with Gradebook(db_url) as gradebook:
        CsvExportPlugin(to=str(reports_dir / "nbgrader_grades.csv"), assignment=[assignment]).export(gradebook)
