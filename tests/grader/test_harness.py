"""The harness: points from weighted outcomes, student-safe feedback, course grading and its bad inputs.

Graded with the miniature suites in tests/grader/suites (causal_mask: weights 3 and 1, 6 points;
tokenizer: one test, 8 points), so the expected points are worked out by hand below.
"""

import json

import pytest

from course.components import COMPONENTS as ALL
from course.grading.batch import grade_course
from course.grading.harness import grade_notebook
from course.grading.report import ComponentResult, GradingError, SubmissionReport, format_table
from tests.grader.helpers import FORGERY, GOOD_CODE, SUITES, write_notebook

COMPONENTS = ["causal_mask", "tokenizer"]
HALF_MASK = '''
import numpy as np


def causal_mask(n):  # wrong for a single position
    return np.tril(np.ones((n, n), bool)) if n > 1 else np.zeros((1, 1), bool)
'''



def grade(notebook, student="student"):
    return grade_notebook(notebook, student, COMPONENTS, suites=SUITES)


def test_honest_notebook_gets_every_point(notebook):
    report = grade(notebook(GOOD_CODE))
    assert [(c.id, c.points, c.max_points) for c in report.components] == [("causal_mask", 6, 6), ("tokenizer", 8, 8)]
    assert report.total == 14 and report.max_total == 14 and report.reason is None
    assert all(t.passed and t.message == "" for c in report.components for t in c.tests)
    assert report.protections and len(report.sha256) == 64


def test_points_follow_the_passed_share_of_weights_and_feedback_is_the_message_only(notebook):
    report = grade(notebook(HALF_MASK))
    mask, tokenizer = report.components
    assert mask.points == 4.5  # 6 points x 3 / (3 + 1)
    failing = [t for t in mask.tests if not t.passed]
    assert [(t.test, t.weight, t.message) for t in failing] == [
        ("test_mask_of_one_is_true", 1.0, "expected [[True]], got [[False]]")]  # no "assert ..." explanation
    assert tokenizer.points == 0 and "KeyError: 'CharTokenizer'" in tokenizer.tests[0].message
    text = report.to_markdown()
    assert "**Total: 4.5 / 14**" in text and r"expected \[\[True\]\], got \[\[False\]\]" in text
    assert "def test_" not in text and "Traceback" not in text


def test_forging_comparisons_tracebacks_frames_and_exits_gains_nothing(notebook):
    report = grade(notebook(FORGERY))
    assert report.total == 0
    tokenizer = report.components[1]
    assert "exit" in tokenizer.reason and "before all checks ran" in tokenizer.reason


def test_unreadable_notebook_scores_zero_with_the_reason(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ this is not json")
    report = grade(broken)
    assert report.total == 0 and "not valid notebook JSON" in report.reason
    assert all(c.points == 0 for c in report.components)


def test_unknown_component_is_a_grading_error(notebook):
    with pytest.raises(GradingError, match="unknown component"):
        grade_notebook(notebook(GOOD_CODE), "x", ["attention_please"], suites=SUITES)


def test_report_survives_a_json_round_trip(notebook):
    report = grade(notebook(HALF_MASK))
    assert SubmissionReport.from_json(report.to_json()) == report


def submit(course, student, *cells):
    return write_notebook(course / "submitted" / student / "tinygpt" / "tinygpt.ipynb", *cells)


def test_grade_course_grades_each_student_once_and_keeps_what_was_graded(tmp_path, capsys):
    submit(tmp_path, "alice", GOOD_CODE)
    submit(tmp_path, "bob", HALF_MASK)
    (tmp_path / "submitted" / "carol" / "tinygpt").mkdir(parents=True)  # handed in nothing
    dave = submit(tmp_path, "dave", GOOD_CODE)
    dave.write_text("not a notebook")
    course = dict(course_dir=tmp_path, progress=False, nbgrader=False, suites=SUITES)

    reports = grade_course(**course)
    assert [(r.student, r.total) for r in reports] == [("alice", 14), ("bob", 4.5), ("carol", 0), ("dave", 0)]
    assert "no .ipynb file" in reports[2].reason and "not valid notebook JSON" in reports[3].reason
    folder = tmp_path / "reports" / "tinygpt"
    grades = json.loads((folder / "grades.json").read_text())
    assert grades["bob"]["components"]["causal_mask"] == 4.5 and grades["alice"]["total"] == 14
    rows = (folder / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student,tokenizer,") and rows[2].startswith("bob,0,0,4.5,")
    assert r"expected \[\[True\]\], got \[\[False\]\]" in (folder / "bob.md").read_text()

    submit(tmp_path, "bob", GOOD_CODE)
    again = grade_course(**course)
    assert [r.total for r in again] == [14, 4.5, 0, 0]  # nothing regraded without force
    assert "4 already graded: kept the reports; the submission changed since then for bob" in capsys.readouterr().err

    forced = grade_course(**course, force=True)
    assert [r.total for r in forced] == [14, 14, 0, 0]
    previous = list((folder / "previous").glob("bob-*.json"))
    assert len(previous) == 1 and SubmissionReport.from_json(previous[0].read_text()).total == 4.5


def test_grade_course_bad_input_says_what_was_expected(tmp_path):
    with pytest.raises(GradingError, match="no submitted/ folder"):
        grade_course(tmp_path, progress=False, nbgrader=False)
    submit(tmp_path, "alice", GOOD_CODE)
    with pytest.raises(GradingError, match="unknown assignment 'gpt2'"):
        grade_course(tmp_path, assignment="gpt2", progress=False, nbgrader=False)


def test_format_table_has_a_row_per_student_and_a_column_per_component():
    report = SubmissionReport("alice", "a.ipynb", total=4.5)
    report.components = [ComponentResult("causal_mask", "m", 4.5, 6)]
    lines = format_table([report]).splitlines()
    assert lines[0].split() == ["student", *(c.id for c in ALL), "total"]
    cells = lines[1].split()
    assert cells[0] == "alice" and cells[-1] == "4.5"
    assert cells[1 + [c.id for c in ALL].index("causal_mask")] == "4.5" and cells.count("0") == len(ALL) - 1
