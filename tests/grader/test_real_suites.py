"""End to end with the real probes and hidden suites (tests/hidden): forging gains nothing, and the
notebook's hidden cells (`course.grading.nbcell.score`) give an honest notebook its points."""

import pytest

from course.grading.harness import grade_notebook
from course.grading.nbcell import score
from tests.grader.helpers import FORGERY, GOOD_CODE


def test_forging_notebook_gains_nothing_against_the_real_suites(notebook):
    report = grade_notebook(notebook(FORGERY), "forger", ["causal_mask", "tokenizer"])
    assert [(c.id, c.points) for c in report.components] == [("causal_mask", 0.0), ("tokenizer", 0.0)]
    assert report.components[0].tests and not any(t.passed for t in report.components[0].tests)


def test_score_grades_the_running_notebook(notebook, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_NOTEBOOK", str(notebook(GOOD_CODE)))
    assert score("causal_mask") == 6.0
    assert capsys.readouterr().out.startswith("causal_mask: 6 / 6 points")


def test_skip_hidden_returns_full_points_only_outside_autograde(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SKIP_HIDDEN", "1")
    monkeypatch.setenv("COURSE_NOTEBOOK", str(tmp_path / "missing.ipynb"))
    assert score("multi_head_attention") == 12.0
    assert "hidden tests skipped" in capsys.readouterr().out
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(FileNotFoundError, match="cannot find the notebook"):
        score("multi_head_attention")  # grading for real: and there is no notebook


def test_score_rejects_an_unknown_component():
    with pytest.raises(ValueError, match="unknown component 'gpt'"):
        score("gpt")
