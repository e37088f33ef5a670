"""The gradebook is the one source of truth: a grader's override and comment in Formgrader survive `course grade`
(with and without force) and show in every table, report and LMS export; late penalties come from every level of
nbgrader's configuration; the roster's LMS ids reach the exports; `course grade --student`.

The mini assignment of test_nbgrader.py, graded once per module; the tests about recording hand nbgrader the
reports already computed (`record_in_gradebook`) instead of grading again.
"""

import csv
import html
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course.build import generate_release
from course.cli import main
from course.grading.batch import grade_course
from course.grading.gradebook import gradebook_scores, record_in_gradebook, write_from_gradebook
from course.grading.report import GradingError, SubmissionReport
from tests.grader.helpers import GOOD_CODE, SUITES
from tests.grader.test_nbgrader import ATTENDS_NOWHERE, mini_source

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
STUDENTS = {"alice": GOOD_CODE, "carol": ATTENDS_NOWHERE, "dave": GOOD_CODE}  # 14, 8, 14 points
ROSTER = "id,first_name,last_name,email,lms_user_id\ncarol,Carol,Jones,carol@uni.example,4711\n"
SITE_CONFIG = 'c.LateSubmissionPlugin.penalty_method = "zero"\n'


@pytest.fixture(autouse=True)
def no_site_config(tmp_path, monkeypatch):
    """Only the configuration a test writes: the machine's own ~/.jupyter and /etc/jupyter files are left out."""
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-jupyter"))
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    monkeypatch.delenv("NBGRADER_DB_URL", raising=False)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The mini course with its roster imported by nbgrader's own command, everyone graded once."""
    root = tmp_path_factory.mktemp("truth")
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), root / "source" / "tinygpt" / "tinygpt.ipynb")
    generate_release(root)
    for student, code in STUDENTS.items():
        notebook = nbformat.read(root / "release" / "tinygpt" / "tinygpt.ipynb", as_version=4)
        notebook.cells[0].source = code
        (root / "submitted" / student / "tinygpt").mkdir(parents=True)
        nbformat.write(notebook, root / "submitted" / student / "tinygpt" / "tinygpt.ipynb")
    (root / "roster.csv").write_text(ROSTER)
    imported = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "import", str(root / "roster.csv"),
                               f"--CourseDirectory.root={root}"], cwd=REPO, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr[-2000:]
    grade_course(root, progress=False, suites=SUITES)
    return root


def db(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def reports_of(course: Path) -> list[SubmissionReport]:
    return [SubmissionReport.from_json((course / "reports" / "tinygpt" / f"{s}.json").read_text()) for s in STUDENTS]


def rows(course: Path, name: str) -> dict[str, dict[str, str]]:
    with open(course / "reports" / "tinygpt" / name, newline="") as file:
        table = list(csv.DictReader(file))
    key = {"grades.csv": "student", "canvas.csv": "SIS Login ID", "moodle.csv": "Username",
           "nbgrader_grades.csv": "student_id"}[name]
    return {row[key]: row for row in table}


def formgrader_override(course: Path, student: str, cell: str, score: float, comment: str) -> None:
    """What Formgrader's grade and comment boxes store: Grade.manual_score and Comment.manual_comment."""
    with Gradebook(db(course), "tinygpt") as gradebook:
        gradebook.find_grade(cell, "tinygpt", "tinygpt", student).manual_score = score
        gradebook.find_comment("code", "tinygpt", "tinygpt", student).manual_comment = comment
        gradebook.db.commit()


def test_an_override_and_a_comment_survive_grade_with_and_without_force_and_show_everywhere(course, capsys):
    formgrader_override(course, "carol", "hidden_causal_mask", 4, "Off by one row; 4 points for the idea.")
    grade_course(course, progress=False, suites=SUITES, force=True, students=["carol"])  # no GradingError
    grade_course(course, progress=False, suites=SUITES)
    assert gradebook_scores(db(course), "tinygpt", "carol") == {"causal_mask": 0, "tokenizer": 8}  # autograde's
    grades = json.loads((course / "reports" / "tinygpt" / "grades.json").read_text())["carol"]
    assert (grades["total"], grades["autograder_total"], grades["components"]["causal_mask"]) == (12, 8, 4)
    assert grades["changes"] == [{"cell": "hidden_causal_mask", "autograder": 0, "grader": 4}]
    assert grades["comments"] == {"code": "Off by one row; 4 points for the idea."}
    table = rows(course, "grades.csv")["carol"]
    assert (table["causal_mask"], table["total"], table["grader_changes"]) == ("4", "12", "hidden_causal_mask 0 -> 4")
    assert rows(course, "nbgrader_grades.csv")["carol"]["score"] == "12.0"
    assert rows(course, "canvas.csv")["carol"] == {"Student": "Jones, Carol", "ID": "4711", "SIS User ID": "",
                                                   "SIS Login ID": "carol", "Section": "", "tinygpt": "12"}
    assert rows(course, "moodle.csv")["carol"] == {"Username": "carol", "Email address": "carol@uni.example",
                                                   "ID number": "4711", "tinygpt": "12"}
    markdown = (course / "reports" / "tinygpt" / "carol.md").read_text()
    assert "**Grade: 12 / 14**: the autograder's total below (8)" in markdown
    assert "- causal_mask: a grader changed the points from 0 to 4" in markdown
    assert "Off by one row; 4 points for the idea." in markdown and "expected the 4x4 lower triangle" in markdown
    feedback = html.unescape((course / "feedback" / "carol" / "tinygpt" / "tinygpt.html").read_text())
    assert "Off by one row; 4 points for the idea." in feedback
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "already graded" in line] == [
        "3 already graded (alice, carol, dave): kept the reports; use force to regrade"]


def _late(course: Path, student: str) -> None:
    with Gradebook(db(course), "tinygpt") as gradebook:
        gradebook.update_or_create_assignment("tinygpt", duedate="2026-01-01 00:00:00 UTC")
    (course / "submitted" / student / "tinygpt" / "timestamp.txt").write_text("2026-01-02 00:00:00 UTC")


def _record(course: Path, options: list[str] = ()) -> dict[str, dict]:
    """Record the reports already computed again (as `course grade --force` does after grading); grades.json."""
    folder = course / "reports" / "tinygpt"
    assert record_in_gradebook(course, "tinygpt", ["dave"], folder, options) == []
    write_from_gradebook(course, "tinygpt", reports_of(course), folder, options)
    return json.loads((folder / "grades.json").read_text())


@pytest.mark.parametrize("level", ["site", "user", "course", "command line"])
def test_a_late_penalty_from_any_config_level_is_applied_and_shown(course, level, tmp_path, monkeypatch):
    _late(course, "dave")
    assert _record(course)["dave"]["late_penalty"] == 0  # nbgrader's default: no penalty
    options = []
    if level == "site":  # like /etc/jupyter: a folder of jupyter's config path
        (tmp_path / "site").mkdir()
        (tmp_path / "site" / "nbgrader_config.py").write_text(SITE_CONFIG)
        monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path / "site"))
    elif level == "user":  # ~/.jupyter
        (tmp_path / "user-jupyter").mkdir()
        (tmp_path / "user-jupyter" / "nbgrader_config.py").write_text(SITE_CONFIG)
    elif level == "course":  # a course's own file (nbgrader's defaults otherwise: Execute becomes the harness)
        (course / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.course_id = "tinygpt"\n'
                                                   f"{SITE_CONFIG}")
    else:
        options = ["--LateSubmissionPlugin.penalty_method=zero"]
    try:
        grades = _record(course, options)["dave"]
    finally:
        (course / "nbgrader_config.py").unlink(missing_ok=True)
    assert (grades["score"], grades["late_penalty"], grades["total"], grades["seconds_late"]) == (14, 14, 0, 86400)
    assert rows(course, "grades.csv")["dave"]["late_penalty"] == "14"
    assert rows(course, "nbgrader_grades.csv")["dave"]["late_submission_penalty"] == "14.0"
    assert rows(course, "canvas.csv")["dave"]["tinygpt"] == rows(course, "moodle.csv")["dave"]["tinygpt"] == "0"
    assert "Late by 24.0 hours: penalty 14 points (score 14 before the penalty)" in (
        course / "reports" / "tinygpt" / "dave.md").read_text()


def test_a_penalty_the_configuration_no_longer_gives_is_said_when_it_goes(course, capsys):
    _late(course, "dave")
    assert _record(course, ["--LateSubmissionPlugin.penalty_method=zero"])["dave"]["late_penalty"] == 14
    capsys.readouterr()
    assert _record(course)["dave"]["late_penalty"] == 0  # as nbgrader autograde would: the config has none
    assert "late penalties recorded before are now 0 for dave (14)" in capsys.readouterr().err


def test_nbgrader_options_that_are_not_class_traits_are_refused_in_one_line(course):
    with pytest.raises(GradingError, match=r"^unrecognized arguments: --late; nbgrader options are --Class.trait"):
        _record(course, ["--late"])


def test_grade_student_checks_the_names_and_grades_only_those(course, capsys):
    assert main(["--course-dir", str(course), "grade", "--student", "alice", "--student", "nobody"]) == 2
    assert capsys.readouterr().err == (f"course grade: error: no submission for nobody: expected "
                                       f"{course}/submitted/<student>/tinygpt/\n")
    with pytest.raises(SystemExit) as refused:  # nbgrader's options are for grade only
        main(["--course-dir", str(course), "build", "--LateSubmissionPlugin.penalty_method=zero"])
    assert refused.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
    assert main(["--course-dir", str(course), "grade", "--student", "alice"]) == 0  # already graded: kept
    out, err = capsys.readouterr()
    assert "1 already graded (alice): kept the reports; use force to regrade" in err
    assert "alice" in out and "canvas.csv" in out
