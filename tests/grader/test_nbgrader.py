"""nbgrader integration: the harness's scores land in the gradebook, feedback and export; stderr does not zero.

A miniature nbgrader course (one solution cell, two hidden grade cells: causal_mask 6 points and
tokenizer 8 points) is built in a temporary folder with the repository's nbgrader_config.py.
"""

import csv
import json
import shutil

import nbformat
import pytest
from nbgrader.apps import NbGraderAPI
from nbgrader.utils import determine_grade

from course.grading.batch import grade_course
from course.grading.gradebook import gradebook_scores, nbgrader_config, record_in_gradebook
from course.grading.nbgrader_hooks import FillHarnessScores, StderrToStdout
from course.grading.report import GradingError
from tests.grader.helpers import GOOD_CODE, SUITES


def grade_cell(component: str, points: int) -> nbformat.NotebookNode:
    source = (f"### BEGIN HIDDEN TESTS\nfrom course.grading.nbcell import score\nscore({component!r})\n"
              "### END HIDDEN TESTS")
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "points": points,
                              "grade_id": f"hidden_{component}", "schema_version": 3}
    return cell


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with the mini assignment generated into nbgrader's gradebook."""
    root = tmp_path_factory.mktemp("course")
    solution = nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{GOOD_CODE}\n### END SOLUTION")
    solution.metadata.nbgrader = {"grade": False, "solution": True, "locked": False, "grade_id": "code",
                                  "schema_version": 3}
    notebook = nbformat.v4.new_notebook(cells=[solution, grade_cell("causal_mask", 6), grade_cell("tokenizer", 8)])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(notebook, root / "source" / "tinygpt" / "tinygpt.ipynb")
    result = NbGraderAPI(config=nbgrader_config(root, root / "reports" / "tinygpt")).generate_assignment("tinygpt")
    assert result["success"], result.get("error")
    return root


def submit(course, student: str, code: str) -> None:
    notebook = nbformat.read(course / "release" / "tinygpt" / "tinygpt.ipynb", as_version=4)
    notebook.cells[0].source = code
    folder = course / "submitted" / student / "tinygpt"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / "tinygpt.ipynb")


def test_release_hides_the_hidden_tests(course):
    release = (course / "release" / "tinygpt" / "tinygpt.ipynb").read_text()
    assert "course.grading.nbcell" not in release and "np.tril" not in release


def test_harness_scores_land_in_gradebook_feedback_and_export(course):
    submit(course, "alice", GOOD_CODE)
    attends_nowhere = GOOD_CODE.replace("np.tril(np.ones((n, n), dtype=bool))", "np.zeros((n, n), bool)")
    submit(course, "bob", attends_nowhere)  # 0 of 6 for the mask
    (course / "submitted" / "carl" / "tinygpt").mkdir(parents=True, exist_ok=True)
    (course / "submitted" / "carl" / "tinygpt" / "tinygpt.ipynb").write_text("{ broken")
    reports = grade_course(course, progress=False, suites=SUITES, force=True)
    assert [(r.student, r.points("causal_mask"), r.points("tokenizer")) for r in reports] == [
        ("alice", 6, 8), ("bob", 0, 8), ("carl", 0, 0)]  # carl: zero in the reports, nothing in nbgrader
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    assert gradebook_scores(db_url, "tinygpt", "alice") == {"causal_mask": 6.0, "tokenizer": 8.0}
    assert gradebook_scores(db_url, "tinygpt", "bob") == {"causal_mask": 0.0, "tokenizer": 8.0}  # 0 stays 0
    with open(course / "reports" / "tinygpt" / "nbgrader_grades.csv", newline="") as file:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert rows == {"alice": 14.0, "bob": 8.0}
    feedback = (course / "feedback" / "bob" / "tinygpt" / "tinygpt.html").read_text()
    assert "test_mask_of_four_is_the_lower_triangle" in feedback and "expected the 4x4 lower triangle" in feedback


def test_gradebook_refuses_a_course_whose_release_was_never_built(tmp_path):
    reports = tmp_path / "reports" / "tinygpt"
    reports.mkdir(parents=True)
    with pytest.raises(GradingError, match="has no assignment 'tinygpt'; build the release first"):
        record_in_gradebook(tmp_path, "tinygpt", ["alice"], reports)


def report_cells(report_folder, student: str, report: dict | None) -> list:
    if report is not None:
        (report_folder / f"{student}.json").write_text(json.dumps(report))
    notebook = nbformat.v4.new_notebook(cells=[grade_cell("causal_mask", 6), grade_cell("tokenizer", 8)])
    filled, _ = FillHarnessScores(reports=str(report_folder)).preprocess(notebook, {"nbgrader": {"student": student}})
    return filled.cells


def test_fill_gives_nbgrader_the_points_including_zero(tmp_path, course):
    report = json.loads((course / "reports" / "tinygpt" / "bob.json").read_text())
    cells = report_cells(tmp_path, "bob", report)
    assert [determine_grade(cell) for cell in cells] == [(0.0, 6.0), (8.0, 8.0)]
    assert "FAILED  test_mask_of_four_is_the_lower_triangle" in cells[0].outputs[0].text


def test_fill_without_a_report_gives_zero_not_nbgraders_free_full_credit(tmp_path):
    cells = report_cells(tmp_path, "nobody", None)
    assert [determine_grade(cell) for cell in cells] == [(0, 6.0), (0, 8.0)]
    assert "run the harness" in cells[0].outputs[0].evalue


def test_stderr_of_grade_cells_moves_to_stdout_but_errors_stay():
    warned = grade_cell("loss", 8)
    warned.outputs = [nbformat.v4.new_output("stream", name="stderr", text="a warning\nsecond line\n"),
                      nbformat.v4.new_output("execute_result", data={"text/plain": "8"}, execution_count=1)]
    failed = grade_cell("trainer", 8)
    failed.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    plain = nbformat.v4.new_code_cell("print(1)")
    plain.outputs = [nbformat.v4.new_output("stream", name="stderr", text="not graded\n")]
    notebook = nbformat.v4.new_notebook(cells=[warned, failed, plain])
    result, _ = StderrToStdout().preprocess(notebook, {})
    assert result.cells[0].outputs[0].name == "stdout"
    assert result.cells[0].outputs[0].text == "[stderr] a warning\n[stderr] second line\n"
    assert [determine_grade(cell) for cell in result.cells[:2]] == [(8.0, 8.0), (0, 8.0)]
    assert result.cells[2].outputs[0].name == "stderr"


def test_repository_config_is_used_with_execute_replaced(tmp_path):
    config = nbgrader_config(tmp_path, tmp_path / "reports")
    steps = config.Autograde.autograde_preprocessors
    assert steps[0] == "course.grading.nbgrader_hooks.FillHarnessScores"
    assert "nbgrader.preprocessors.Execute" not in steps
    assert "course.grading.nbgrader_hooks.StderrToStdout" in steps
    assert config.CourseDirectory.db_url == f"sqlite:///{tmp_path.resolve() / 'gradebook.db'}"
    shutil.rmtree(tmp_path / "reports", ignore_errors=True)
