"""nbgrader integration on a miniature course: the harness's scores land in the gradebook, feedback and export,
whatever the submission did to its nbgrader cells; one grader per course folder.

The mini assignment (one solution cell, a 0-point check cell, two hidden grade cells: causal_mask 6 points and
tokenizer 8 points) is built once per module with the repository's nbgrader_config.py and the test suites.
"""

import copy
import csv
import html
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import determine_grade

from course.build import generate_release
from course.grading.batch import grade_course
from course.grading.gradebook import generate_assignment, gradebook_scores, nbgrader_failure
from course.grading.locks import course_lock
from course.grading.nbgrader_hooks import HIDDEN_GUARD, grade_outputs
from course.grading.report import ComponentResult, SubmissionReport
from course.grading.structure import match_release
from tests.grader.helpers import GOOD_CODE, SUITES

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
ATTENDS_NOWHERE = GOOD_CODE.replace("np.tril(np.ones((n, n), dtype=bool))", "np.zeros((n, n), bool)")


def nbgrader_cell(cell, grade_id: str, grade: bool, solution: bool, locked: bool, points: int | None = None):
    cell.metadata.nbgrader = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
                              "schema_version": 3, **({} if points is None else {"points": points})}
    return cell


def mini_source() -> nbformat.NotebookNode:
    new = nbformat.v4.new_code_cell
    cells = [nbgrader_cell(new(f"### BEGIN SOLUTION\n{GOOD_CODE}\n### END SOLUTION"), "code", False, True, False),
             nbgrader_cell(new("assert causal_mask(2).shape == (2, 2)"), "code_checks", True, False, True, 0),
             nbgrader_cell(new(f"# Hidden (6 points)\n{HIDDEN_GUARD}"), "hidden_causal_mask", True, False, True, 6),
             nbgrader_cell(new(f"# Hidden (8 points)\n{HIDDEN_GUARD}"), "hidden_tokenizer", True, False, True, 8)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with the mini assignment built (release/ and the gradebook) and the test suites."""
    root = tmp_path_factory.mktemp("course")
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), root / "source" / "tinygpt" / "tinygpt.ipynb")
    generate_release(root)
    return root


def release(course) -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / "tinygpt" / "tinygpt.ipynb", as_version=4)


def submit(course, student: str, notebook: nbformat.NotebookNode, name: str = "tinygpt.ipynb") -> None:
    folder = course / "submitted" / student / "tinygpt"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.ipynb"):
        old.unlink()
    nbformat.write(notebook, folder / name)


def solved(course, code: str = GOOD_CODE) -> nbformat.NotebookNode:
    notebook = release(course)
    notebook.cells[0].source = code
    return notebook


def test_release_has_no_hidden_code_and_checks_are_zero_point_grade_cells(course):
    cells = release(course).cells
    assert [(c.metadata.nbgrader["grade_id"], c.metadata.nbgrader.get("points")) for c in cells if
            c.metadata.nbgrader["grade"]] == [("code_checks", 0), ("hidden_causal_mask", 6), ("hidden_tokenizer", 8)]
    assert "np.tril" not in json.dumps([c.source for c in cells])


def odd_submissions(course) -> dict[str, tuple[nbformat.NotebookNode, str]]:
    """student -> (notebook, file name): each breaks the release's cell structure another way."""
    good = solved(course)
    deleted = copy.deepcopy(good)
    del deleted.cells[2]  # hidden_causal_mask
    duplicated = copy.deepcopy(good)
    duplicated.cells.insert(3, copy.deepcopy(duplicated.cells[3]))  # hidden_tokenizer twice
    duplicated.cells.insert(1, copy.deepcopy(duplicated.cells[1]))  # the check cell twice
    renamed = copy.deepcopy(good)
    renamed.cells[2].metadata.nbgrader["grade_id"] = "my_mask_tests"
    extra = copy.deepcopy(good)
    extra.cells.append(nbgrader_cell(nbformat.v4.new_code_cell("print('bonus')"), "bonus", True, False, False, 50))
    repointed = copy.deepcopy(solved(course, ATTENDS_NOWHERE))
    repointed.cells[3].metadata.nbgrader.update(points=100, grade_id="hidden_causal_mask")
    repointed.cells[2].metadata.nbgrader["points"] = 60
    return {"a-deleted": (deleted, "tinygpt.ipynb"), "b-duplicated": (duplicated, "tinygpt.ipynb"),
            "c-renamed": (renamed, "tinygpt.ipynb"), "d-extra": (extra, "tinygpt.ipynb"),
            "e-repointed": (repointed, "tinygpt.ipynb"), "f-saved-as": (good, "TinyGPT (1).ipynb"),
            "g-plain": (good, "tinygpt.ipynb"), "h-wrong-mask": (solved(course, ATTENDS_NOWHERE), "tinygpt.ipynb")}


def test_every_student_is_recorded_with_the_harness_scores_whatever_the_cells(course):
    for student, (notebook, name) in odd_submissions(course).items():
        submit(course, student, notebook, name)
    (course / "submitted" / "z-broken" / "tinygpt").mkdir(parents=True, exist_ok=True)
    (course / "submitted" / "z-broken" / "tinygpt" / "tinygpt.ipynb").write_text("{ broken")
    reports = grade_course(course, progress=False, suites=SUITES, force=True)
    scores = {r.student: (r.points("causal_mask"), r.points("tokenizer")) for r in reports}
    assert scores == {"a-deleted": (6, 8), "b-duplicated": (6, 8), "c-renamed": (6, 8), "d-extra": (6, 8),
                      "e-repointed": (0, 8), "f-saved-as": (6, 8), "g-plain": (6, 8), "h-wrong-mask": (0, 8),
                      "z-broken": (0, 0)}  # z-broken: zero in the reports, nothing nbgrader could read
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    for student, (mask, tokenizer) in scores.items():
        if student != "z-broken":
            assert gradebook_scores(db_url, "tinygpt", student) == {"causal_mask": mask, "tokenizer": tokenizer}
    with open(course / "reports" / "tinygpt" / "nbgrader_grades.csv", newline="") as file:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert totals == {student: sum(points) for student, points in scores.items() if student != "z-broken"}
    deleted = (course / "reports" / "tinygpt" / "a-deleted.md").read_text()
    assert r"cell 'hidden\_causal\_mask' was missing: restored from the release" in deleted  # escaped Markdown
    feedback = html.unescape((course / "feedback" / "e-repointed" / "tinygpt" / "tinygpt.html").read_text())
    assert "expected the 4x4 lower triangle" in feedback
    assert "cell 'hidden_causal_mask' was changed (points 60 (release: 6)): restored from the release" in feedback


def test_match_release_restores_the_release_cells_and_keeps_the_answer(course):
    notebook, _ = odd_submissions(course)["e-repointed"]
    fixed, problems = match_release(notebook, release(course))
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in fixed.cells] == [
        "code", "code_checks", "hidden_causal_mask", "hidden_tokenizer", None]
    assert fixed.cells[0].source == ATTENDS_NOWHERE
    assert fixed.cells[2].metadata.nbgrader["points"] == 6
    assert problems == [
        "cell 'hidden_causal_mask' was changed (points 60 (release: 6)): restored from the release",
        "cell 'hidden_causal_mask' appears more than once: the copy was treated as an ordinary cell",
        "cell 'hidden_tokenizer' was missing: restored from the release"]
    assert len({c.id for c in fixed.cells}) == len(fixed.cells)


def test_grade_outputs_give_nbgrader_the_points_including_zero():
    report = SubmissionReport("bob", "x.ipynb", components=[ComponentResult("causal_mask", "causal_mask", 0.0, 6)])
    cell = nbgrader_cell(nbformat.v4.new_code_cell(""), "hidden_causal_mask", True, False, True, 6)
    cell.outputs = grade_outputs("hidden_causal_mask", report)
    assert determine_grade(cell) == (0.0, 6.0)
    cell.outputs = grade_outputs("hidden_tokenizer", report)  # no score: 0, not nbgrader's free full credit
    assert determine_grade(cell) == (0, 6.0) and "no score" in cell.outputs[0].evalue


def test_plain_nbgrader_autograde_cli_runs_the_harness(course):
    """The CLI, without course grade's reports: the harness grades the submitted file itself."""
    submit(course, "cli-good", solved(course))
    submit(course, "cli-bad", solved(course, ATTENDS_NOWHERE))
    for student in ("cli-good", "cli-bad"):
        finished = subprocess.run(
            [sys.executable, "-m", "nbgrader", "autograde", "tinygpt", f"--student={student}",
             f"--CourseDirectory.root={course}", f"--HarnessScores.suites={SUITES}"],
            cwd=REPO, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr[-2000:]
        assert "not recognized" not in finished.stderr and "Executing notebook" not in finished.stderr
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    assert gradebook_scores(db_url, "tinygpt", "cli-good") == {"causal_mask": 6, "tokenizer": 8}
    assert gradebook_scores(db_url, "tinygpt", "cli-bad") == {"causal_mask": 0, "tokenizer": 8}


HW1_SOLUTION = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"


def test_another_assignment_of_the_course_is_graded_by_nbgrader_with_its_own_tests(course):
    """hw1 (one solution cell, a 5-point assert cell) beside TinyGPT: nbgrader's Execute runs its tests."""
    new = nbformat.v4.new_code_cell
    cells = [nbgrader_cell(new(HW1_SOLUTION), "add", False, True, False),
             nbgrader_cell(new("assert add(2, 3) == 5"), "test_add", True, False, True, 5)]
    hw1 = nbformat.v4.new_notebook(cells=cells)
    hw1.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (course / "source" / "hw1").mkdir()
    nbformat.write(hw1, course / "source" / "hw1" / "hw1.ipynb")
    generate_assignment(course, "hw1", course / "release")
    stub = nbformat.read(course / "release" / "hw1" / "hw1.ipynb", as_version=4)
    assert "NotImplementedError" in stub.cells[0].source
    solved_hw1 = copy.deepcopy(stub)
    solved_hw1.cells[0].source = "def add(a, b):\n    return a + b"
    for student, notebook in (("hw1-stub", stub), ("hw1-solved", solved_hw1)):
        (course / "submitted" / student / "hw1").mkdir(parents=True)
        nbformat.write(notebook, course / "submitted" / student / "hw1" / "hw1.ipynb")
    finished = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "hw1",
                               f"--CourseDirectory.root={course}"], cwd=REPO, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "sandboxed harness" not in finished.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tinygpt") as gradebook:
        assert {s: gradebook.find_submission("hw1", s).score for s in ("hw1-stub", "hw1-solved")} == {
            "hw1-stub": 0.0, "hw1-solved": 5.0}
    assert not (course / "solutions" / "hw1.py").exists()  # solutions/ belongs to the harness's assignment only


def test_a_second_grader_on_the_same_course_waits_and_says_who_holds_it(course):
    program = ("import sys; from course.grading.locks import course_lock\n"
               f"with course_lock({str(course)!r}): print('got it', flush=True)")
    with course_lock(course):
        second = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        time.sleep(1.5)
        assert second.poll() is None  # waiting
    out, err = second.communicate(timeout=30)
    assert out == "got it\n"
    assert err.count("\n") == 1 and "is held by pid" in err and "waiting for it to finish" in err


def test_nbgrader_failure_is_the_real_cause_in_one_line():
    log = ("[AutogradeApp | ERROR] There was an error processing assignment: /x\n"
           "Traceback (most recent call last):\n  File \"a.py\", line 1\n"
           "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection to postgresql://u:secret@h/db "
           "failed\n[AutogradeApp | ERROR] Please see the error log above for details.")
    line = nbgrader_failure({"success": False, "log": log, "error": "NbGraderException: Please see the error log"})
    assert line.startswith("sqlalchemy.exc.OperationalError:") and "secret" not in line and "u:***@h" in line


def test_grade_registers_the_assignment_a_fresh_clone_has_no_gradebook_for(course, tmp_path):
    clone = tmp_path / "clone"
    for folder in ("source", "release"):  # what a clone has: no gradebook.db
        shutil.copytree(course / folder, clone / folder)
    release_before = (clone / "release" / "tinygpt" / "tinygpt.ipynb").read_bytes()
    submit(clone, "fresh", solved(course))
    grade_course(clone, progress=False, suites=SUITES)
    assert gradebook_scores(f"sqlite:///{clone / 'gradebook.db'}", "tinygpt", "fresh") == {
        "causal_mask": 6, "tokenizer": 8}
    assert (clone / "release" / "tinygpt" / "tinygpt.ipynb").read_bytes() == release_before


def test_nbgrader_from_the_venv_without_activation(course, tmp_path):
    """`.venv/bin/nbgrader generate_assignment --force` with the venv's scripts off PATH: works, no warning."""
    clone = tmp_path / "clone"
    shutil.copytree(course / "source", clone / "source")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent)
    finished = subprocess.run([Path(sys.executable).parent / "nbgrader", "generate_assignment", "tinygpt", "--force",
                               f"--CourseDirectory.root={clone}"], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "PATH": path})
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "not recognized" not in finished.stderr
    assert (clone / "release" / "tinygpt" / "tinygpt.ipynb").is_file() and (clone / "gradebook.db").is_file()


def test_a_failed_generate_assignment_leaves_the_release_notebook(course, tmp_path):
    clone = tmp_path / "clone"
    for folder in ("source", "release"):
        shutil.copytree(course / folder, clone / folder)
    shutil.copy(REPO / "nbgrader_config.py", clone)  # its course folder is where it lives
    release = (clone / "release" / "tinygpt" / "tinygpt.ipynb").read_bytes()
    (clone / "source" / "tinygpt" / "tinygpt.ipynb").write_text("{ not a notebook")
    finished = subprocess.run([Path(sys.executable).parent / "nbgrader", "generate_assignment", "tinygpt", "--force"],
                              cwd=clone, capture_output=True, text=True)
    assert finished.returncode != 0
    assert (clone / "release" / "tinygpt" / "tinygpt.ipynb").read_bytes() == release


def test_generated_outputs_are_ignored_by_git():
    outputs = ["grades.csv", "gradebook.db", "gradebook.db.lock", ".grading.lock", "autograded/x/tinygpt/tinygpt.ipynb",
               "feedback/x/tinygpt/tinygpt.html", "submitted/x/tinygpt/tinygpt.ipynb", "reports/tinygpt/x.json",
               "release/tinygpt/.ipynb_checkpoints/tinygpt-checkpoint.ipynb"]
    finished = subprocess.run(["git", "check-ignore", *outputs], cwd=REPO, capture_output=True, text=True)
    assert finished.stdout.split() == outputs
