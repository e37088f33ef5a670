"""The mutation check: each mutant loses points on the components it names, and nowhere else.

Every submission is graded by the real harness (sandboxed, as a student's would be): the reference
submission must score 100, the untouched release 0, and each mutant (tests/mutants/<component>/)
less than 100 with points lost exactly on its BREAKS. Grading runs two submissions at a time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from course.components import BY_ID, TOTAL_POINTS
from course.grading.harness import grade_notebook
from course.grading.report import SubmissionReport
from course.mutants import RELEASE, Mutant, load_mutant, mutant_files, mutant_submission, reference_submission

MUTANTS: list[Mutant] = [load_mutant(path) for path in mutant_files()]
PARALLEL_GRADINGS = 2


def _lost(report: SubmissionReport) -> dict[str, float]:
    return {c.id: round(c.max_points - c.points, 2) for c in report.components if c.points < c.max_points}


def _failures(report: SubmissionReport) -> str:
    lines = [f"{c.id} {t.test}: {t.message}" for c in report.components for t in c.tests if not t.passed]
    reasons = [f"{c.id}: {c.reason}" for c in report.components if c.reason]
    return "\n".join(lines + reasons) or "(no failing test)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionReport]:
    """Grade the reference, the untouched release and every mutant; student name -> report."""
    folder = tmp_path_factory.mktemp("mutant-submissions")
    notebooks = {"reference": reference_submission(), "release": nbformat.read(RELEASE, as_version=4)}
    notebooks.update({mutant.id: mutant_submission(mutant) for mutant in MUTANTS})
    paths = {}
    for student, notebook in notebooks.items():
        paths[student] = folder / f"{student.replace('/', '--')}.ipynb"
        nbformat.write(notebook, paths[student])
    with ThreadPoolExecutor(PARALLEL_GRADINGS) as pool:  # each grading is its own pytest process
        reports = pool.map(lambda student: grade_notebook(paths[student], student), paths)
        return dict(zip(paths, reports, strict=True))


def test_every_graded_part_has_mutants():
    covered = {mutant.component for mutant in MUTANTS}
    missing = sorted(set(BY_ID) - covered - {"end_to_end"})
    assert not missing, f"components without a mutant: {missing}"


def test_reference_submission_scores_full_points(graded):
    report = graded["reference"]
    assert report.total == TOTAL_POINTS, f"reference scored {report.total}, lost {_lost(report)}:\n{_failures(report)}"


def test_untouched_release_scores_zero(graded):
    report = graded["release"]
    assert report.total == 0, f"the untouched release scored {report.total}: {report.components}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.id for mutant in MUTANTS])
def test_mutant_loses_points_on_its_components_only(graded, mutant: Mutant):
    report = graded[mutant.id]
    lost = _lost(report)
    assert report.total < TOTAL_POINTS, f"{mutant.id} ({mutant.bug}) scored full points"
    assert set(lost) == set(mutant.breaks), (
        f"{mutant.id} ({mutant.bug}) should lose points on {sorted(mutant.breaks)} only; lost {lost}.\n"
        f"Failing tests:\n{_failures(report)}")


def test_each_mutant_breaks_the_component_of_its_folder():
    for mutant in MUTANTS:
        assert mutant.component in mutant.breaks, f"{mutant.id}: BREAKS {mutant.breaks} omits its own folder"
