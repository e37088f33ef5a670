"""nbgrader's gradebook for `course build` and `course grade`: one configuration, one database, one-line errors.

The configuration is the one nbgrader's own commands see: the site-wide and user files (`/etc/jupyter`,
`~/.jupyter`, ... : jupyter's config path), then the course's nbgrader_config.py, then options given on
`course grade`'s command line (`--LateSubmissionPlugin.penalty_method=zero`), so that late penalties
and any other setting apply alike. `course grade` checks the gradebook before it writes anything
(`check_before_grading`), records the harness's scores with nbgrader's own autograde (`MatchRelease`
and `HarnessScores` in place of Execute, `HarnessScores.reports` pointing at the reports the batch just
wrote), generates nbgrader's feedback, reads back what autograde recorded and compares it with the
reports; then every table and report is derived from the gradebook, with a grader's overrides,
comments and late penalties (`write_from_gradebook`, `course.grading.exports`).
Every failure is one line with its real cause and no password.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import warnings
from copy import deepcopy
from pathlib import Path

from jupyter_core.paths import jupyter_config_path
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import CsvExportPlugin
from sqlalchemy.exc import SAWarning
from traitlets.config import Config, KVArgParseConfigLoader, PyFileConfigLoader

from course.components import NOTEBOOK
from course.grading.database import check_gradebook, gradebook_url, redact
from course.grading.exports import FinalGrade, annotated_markdown, final_grades, write_exports
from course.grading.harness import find_notebook
from course.grading.locks import gradebook_lock
from course.grading.nbgrader_hooks import HIDDEN_PREFIX
from course.grading.report import GradingError, SubmissionReport

REPO = Path(__file__).resolve().parents[2]
EXECUTE = "nbgrader.preprocessors.Execute"
HARNESS = "course.grading.nbgrader_hooks.HarnessScores"
MATCH = "course.grading.nbgrader_hooks.MatchRelease"


def _put_python_scripts_on_path() -> None:
    """nbgrader's Gradebook runs the `alembic` command found on PATH: make it the one beside this Python."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])


def _names(steps) -> list[str]:
    return [step if isinstance(step, str) else f"{step.__module__}.{step.__name__}" for step in steps]


CONFIG_FILE = "nbgrader_config.py"


def config_files(course_dir: Path) -> list[Path]:
    """The nbgrader_config.py files nbgrader reads for `course_dir`, lowest priority first: jupyter's config
    path (system, environment, user), then the course's own (this repository's if it has none)."""
    site = [Path(folder) / CONFIG_FILE for folder in reversed(jupyter_config_path())]
    own = Path(course_dir) / CONFIG_FILE
    return [path for path in site if path.is_file()] + [own if own.is_file() else REPO / CONFIG_FILE]


def command_line_config(options: list[str]) -> Config:
    """nbgrader's command-line options (`--Class.trait=value`) as a Config; GradingError for anything else."""
    wrong = [option for option in options if not re.fullmatch(r"--[A-Za-z_]\w*(\.[A-Za-z_]\w*)+=.*", option)]
    if wrong:
        raise GradingError(f"unrecognized arguments: {' '.join(wrong)}; nbgrader options are --Class.trait=value, "
                           "e.g. --LateSubmissionPlugin.penalty_method=zero")
    return KVArgParseConfigLoader(list(options)).load_config()


def nbgrader_config(course_dir: Path, reports_dir: Path | None = None, options: list[str] = ()) -> Config:
    """The nbgrader configuration of `course_dir` (`config_files`, then the command-line `options`) rooted at
    `course_dir`, its gradebook `database.gradebook_url` (unless a file names one), autograde through the
    harness (Execute replaced if an old file still has it) and, with `reports_dir`, the batch's reports."""
    _put_python_scripts_on_path()
    course_dir = Path(course_dir).resolve()
    url = gradebook_url(course_dir)
    check_gradebook(url)  # a missing driver or dead server: one line, before nbgrader touches anything
    config = Config()
    for path in config_files(course_dir):
        try:  # nbgrader would log a broken file and go on with its defaults: stop here instead, in one line
            config.merge(PyFileConfigLoader(path.name, str(path.parent)).load_config())
        except Exception as error:  # noqa: BLE001 (any error of the instructor's file)
            raise GradingError(f"{path}: {type(error).__name__}: {error}") from None
    config.merge(command_line_config(options))
    config.CourseDirectory.root = str(course_dir)
    if "db_url" not in config.CourseDirectory:
        config.CourseDirectory.db_url = url
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    traits = Autograde.class_traits()
    # Execute as a config file names it, or as nbgrader's own default list holds it (the class, named by its module)
    execute = {EXECUTE, *_names([Execute])}
    autograde = _names(config.Autograde.get("autograde_preprocessors", traits["autograde_preprocessors"].default()))
    config.Autograde.autograde_preprocessors = [HARNESS if step in execute else step for step in autograde]
    sanitize = _names(config.Autograde.get("sanitize_preprocessors", traits["sanitize_preprocessors"].default()))
    config.Autograde.sanitize_preprocessors = sanitize if MATCH in sanitize else [MATCH, *sanitize]
    if reports_dir is not None:
        config.HarnessScores.reports = str(reports_dir)
    return config


def check_before_grading(course_dir: Path, options: list[str] = ()) -> None:
    """GradingError (one line) if the gradebook cannot be opened or the configuration not loaded: called
    before `course grade` writes anything (reports, tables, lock files)."""
    config = nbgrader_config(course_dir, options=options)
    if config.CourseDirectory.db_url != gradebook_url(course_dir):  # a config file names another gradebook
        check_gradebook(config.CourseDirectory.db_url)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Warning)\b.*:")
_GENERIC = ("NbGraderException", "There was an error processing", "Please see the error log")


def nbgrader_failure(result: dict) -> str:
    """The real cause of a failed NbGraderAPI call, in one line, password hidden: the last exception line of
    its log (nbgrader's own "see the log" wrapper skipped), else its first ERROR line."""
    lines = [line.strip() for line in "\n".join(filter(None, [result.get("log"), result.get("error")])).splitlines()]
    lines = [line for line in lines if line and not any(generic in line for generic in _GENERIC)]
    causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
    errors = [line.split("]", 1)[-1].strip() for line in lines if line.startswith("[") and "ERROR" in line[:40]]
    return redact(causes[-1] if causes else (errors or lines or ["no details"])[0])


def _run(step, *args, **kwargs) -> None:
    with warnings.catch_warnings():  # nbgrader 0.9.6 trips harmless SQLAlchemy autoflush warnings
        warnings.simplefilter("ignore", SAWarning)
        result = step(*args, **kwargs)
    if not result["success"]:
        raise GradingError(f"nbgrader {step.__name__.removeprefix('_')} failed: {nbgrader_failure(result)}")


def generate_assignment(course_dir: Path, assignment: str, release_dir: Path, db_url: str | None = None) -> Path:
    """`nbgrader generate_assignment` of `source/<assignment>` into `release_dir/<assignment>` (not the course's
    release/, which stays as it is whatever happens); registers the assignment in the gradebook (`db_url`:
    another one than the course's)."""
    config = nbgrader_config(course_dir)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    config.CourseDirectory.release_directory = str(Path(release_dir).resolve())  # absolute: outside the course
    _run(NbGraderAPI(config=config).generate_assignment, assignment, force=True)
    return Path(release_dir) / assignment


def _has_assignment(api: NbGraderAPI, assignment: str) -> bool:
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            return False
        return True


def gradebook_scores(db_url: str, assignment: str, student: str, course_id: str = "tinygpt") -> dict[str, float]:
    """component id -> the score autograde recorded in nbgrader's gradebook for one student (a grader's
    override in Formgrader is kept beside it, in `Grade.manual_score`: see `course.grading.exports`)."""
    with Gradebook(db_url, course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {grade.name.removeprefix(HIDDEN_PREFIX): grade.auto_score
                for notebook in submission.notebooks for grade in notebook.grades
                if grade.name.startswith(HIDDEN_PREFIX)}


def _late_penalty(api: NbGraderAPI, assignment: str, student: str) -> float:
    """The late penalty the gradebook holds for the student's submission (0 when there is none)."""
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            return gradebook.find_submission(assignment, student).late_submission_penalty or 0.0
        except MissingEntry:
            return 0.0


def _staged(config: Config, folder: Path, student: str, assignment: str, scratch: Path) -> Config:
    """nbgrader grades only `<assignment>/tinygpt.ipynb`: a submission saved under another name (the one
    notebook the harness graded) is shown to nbgrader as a copy under the expected name."""
    if (folder / NOTEBOOK).is_file():
        return config
    staged = scratch / student / assignment
    shutil.copytree(folder, staged, ignore=shutil.ignore_patterns("*.ipynb"))
    shutil.copy(find_notebook(folder), staged / NOTEBOOK)
    config = deepcopy(config)
    config.CourseDirectory.submitted_directory = str(scratch)  # absolute: nbgrader looks there, not in submitted/
    return config


def _disagreement(api: NbGraderAPI, assignment: str, student: str, report: SubmissionReport) -> str | None:
    """What autograde recorded (not a grader's override) must be the harness's points."""
    recorded = gradebook_scores(api.coursedir.db_url, assignment, student, api.coursedir.course_id)
    expected = {c.id: c.points for c in report.components}
    wrong = [id for id in recorded if abs(recorded[id] - expected.get(id, 0.0)) > 1e-6]
    lost = [id for id, points in expected.items() if points > 0 and id not in recorded]  # no grade cell for it
    if wrong or lost:
        return (f"nbgrader's gradebook disagrees with the harness for {student}: "
                f"gradebook {recorded}, harness {expected}")
    return None


def record_in_gradebook(course_dir: Path, assignment: str, students: list[str], reports_dir: Path,
                        options: list[str] = ()) -> list[str]:
    """Autograde (the harness's reports, no code run) and generate feedback for `students`; late penalties
    as the configuration says (`options`: nbgrader's command-line options). A grader's overrides and
    comments stay (nbgrader's autograde keeps `manual_score` and `manual_comment`).

    Registers the assignment first when the gradebook lacks it. A student nbgrader cannot record does
    not stop the others: the returned list has one line per such student (empty: all recorded and verified).
    """
    course_dir = Path(course_dir).resolve()
    config = nbgrader_config(course_dir, reports_dir, options)
    api = NbGraderAPI(config=config)
    db_url = api.coursedir.db_url
    problems = []
    with gradebook_lock(db_url):
        if not _has_assignment(api, assignment):
            print(f"nbgrader's gradebook ({redact(db_url)}) has no assignment {assignment!r}: registering it "
                  f"from source/{assignment}", file=sys.stderr)
            with tempfile.TemporaryDirectory(prefix="course-register-") as scratch:
                generate_assignment(course_dir, assignment, Path(scratch))
    dropped = []  # late penalties recorded before that this configuration no longer gives
    for student in students:
        folder = Path(api.coursedir.format_path(api.coursedir.submitted_directory, student, assignment))
        report = SubmissionReport.from_json((reports_dir / f"{student}.json").read_text())
        with tempfile.TemporaryDirectory(prefix="course-stage-") as scratch, gradebook_lock(db_url):
            staged = NbGraderAPI(config=_staged(config, folder, student, assignment, Path(scratch)))
            try:
                before = _late_penalty(api, assignment, student)
                _run(staged.autograde, assignment, student, force=True)
                dropped += [f"{student} ({before:g})"] if before and not _late_penalty(api, assignment, student) else []
                _run(api.generate_feedback, assignment, student, force=True)
                problem = _disagreement(api, assignment, student, report)
            except GradingError as error:
                problem = f"{student}: {error}"
        if problem:
            problems.append(problem)
    if dropped:
        print(f"late penalties recorded before are now 0 for {', '.join(dropped)}: the nbgrader configuration "
              "course grade read gives none (set LateSubmissionPlugin.penalty_method in nbgrader_config.py, "
              "or pass --LateSubmissionPlugin.penalty_method=... to course grade)", file=sys.stderr)
    return problems


def final_grades_of(course_dir: Path, assignment: str, reports: list[SubmissionReport],
                    options: list[str] = ()) -> list[FinalGrade]:
    """`reports`' students as the course's gradebook holds them (`exports.final_grades`)."""
    coursedir = CourseDirectory(config=nbgrader_config(course_dir, options=options))
    return final_grades(coursedir.db_url, coursedir.course_id, assignment, reports)


def write_from_gradebook(course_dir: Path, assignment: str, reports: list[SubmissionReport], reports_dir: Path,
                         options: list[str] = ()) -> list[FinalGrade]:
    """Every table and report of `reports`' students from the gradebook: `grades.csv`, `grades.json`,
    `canvas.csv`, `moodle.csv`, nbgrader's `nbgrader_grades.csv`, each `<student>.md` with a grader's changes
    and the late penalty, and nbgrader's HTML feedback again for the students a grader changed."""
    api = NbGraderAPI(config=nbgrader_config(course_dir, reports_dir, options))
    db_url, course_id = api.coursedir.db_url, api.coursedir.course_id
    with gradebook_lock(db_url):  # one consistent view while another section may be writing
        grades = final_grades(db_url, course_id, assignment, reports)
        with Gradebook(db_url, course_id) as gradebook:
            CsvExportPlugin(to=str(reports_dir / "nbgrader_grades.csv"), assignment=[assignment]).export(gradebook)
    write_exports(grades, reports_dir, assignment)
    for report, grade in zip(reports, grades, strict=True):
        (reports_dir / f"{report.student}.md").write_text(annotated_markdown(report, grade))
        if grade.recorded and (grade.changes or grade.comments):  # Formgrader's changes in nbgrader's feedback too
            with gradebook_lock(db_url):
                _run(api.generate_feedback, assignment, report.student, force=True)
    return grades
