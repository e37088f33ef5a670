"""End to end with the real probes and hidden suites (tests/hidden): forging gains nothing."""

from course.grading.harness import grade_notebook
from tests.grader.helpers import FORGERY


def test_forging_notebook_gains_nothing_against_the_real_suites(notebook):
    report = grade_notebook(notebook(FORGERY), "forger", ["causal_mask", "tokenizer"])
    assert [(c.id, c.points) for c in report.components] == [("causal_mask", 0.0), ("tokenizer", 0.0)]
    assert report.components[0].tests and not any(t.passed for t in report.components[0].tests)
