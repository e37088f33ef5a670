"""The fairness suite: correct solutions in other styles score exactly 100; tricks gain nothing.

Graded by the real harness (sandboxed, as a student's submission is), two at a time:
- each complete solution of tests/fairness/solutions/ (four styles), once, on every component;
- single-component swaps: the reference submission with one solution cell taken from another style, two
  styles per cell (24 swaps). To bound CPU a swap is graded on its own component only, plus end_to_end
  when the cell is part of the model (end_to_end trains the student's TinyGPT with all its parts);
- tricks (tests/fairness/tricks/, appended to the untouched release like a mutant): always-raising stubs,
  NaN outputs, lying __eq__ and ndarray subclasses, lookup tables of the visible checks' inputs, a
  look-ahead "model". Each must score exactly what the untouched release scores.
"""

from __future__ import annotations

import ast
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course.grading.harness import grade_notebook
from course.grading.report import SubmissionReport
from course.mutants import RELEASE
from course.submissions import with_appended_code
from tests.fairness.styles import MODEL_PARTS, component_of_cells, full_solution, style_cells, style_files, swap

HERE = Path(__file__).resolve().parent
STYLES = style_files()
CELLS = component_of_cells()
SWAPS = [(STYLES[(i + shift) % len(STYLES)], grade_id) for i, grade_id in enumerate(CELLS) for shift in (0, 2)]
TRICKS = sorted((HERE / "tricks").glob("[!_]*.py"))
PARALLEL_GRADINGS = 2


def _swap_id(style: Path, grade_id: str) -> str:
    return f"{grade_id}<-{style.stem}"


def _failures(report: SubmissionReport) -> str:
    lines = [f"{c.id} {t.test}: {t.message}" for c in report.components for t in c.tests if not t.passed]
    return "\n".join(lines + [f"{c.id}: {c.reason}" for c in report.components if c.reason]) or "(none)"


def fairness_jobs() -> dict[str, tuple[nbformat.NotebookNode, list[str] | None]]:
    """Every submission of the suite: name -> (notebook, the components to grade or None for all)."""
    release = nbformat.read(RELEASE, as_version=4)
    jobs: dict[str, tuple[nbformat.NotebookNode, list[str] | None]] = {"release": (release, None)}
    jobs.update({f"style:{path.stem}": (full_solution(path), None) for path in STYLES})
    for style, grade_id in SWAPS:
        component = CELLS[grade_id]
        components = [component, "end_to_end"] if component in MODEL_PARTS else [component]
        jobs[f"swap:{_swap_id(style, grade_id)}"] = (swap(style, grade_id), components)
    jobs.update({f"trick:{path.stem}": (with_appended_code(release, path.read_text()), None) for path in TRICKS})
    return jobs


def grade_all(jobs: dict[str, tuple[nbformat.NotebookNode, list[str] | None]], folder: Path,
              parallel: int = PARALLEL_GRADINGS) -> dict[str, SubmissionReport]:
    paths = {}
    for number, (name, (notebook, _)) in enumerate(jobs.items()):
        paths[name] = folder / f"{number:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.ipynb"
        nbformat.write(notebook, paths[name])
    with ThreadPoolExecutor(parallel) as pool:  # each grading is its own pytest process
        reports = pool.map(lambda name: grade_notebook(paths[name], name, components=jobs[name][1]), jobs)
        return dict(zip(jobs, reports, strict=True))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionReport]:
    return grade_all(fairness_jobs(), tmp_path_factory.mktemp("fairness"))


def test_the_suite_has_four_styles_twenty_swaps_and_every_trick():
    assert len(STYLES) >= 4 and len(SWAPS) >= 20, f"{len(STYLES)} styles, {len(SWAPS)} swaps"
    for path in STYLES:
        assert set(style_cells(path)) == set(CELLS), f"{path.name} does not solve every solution cell"
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.name}: say what its style is"
    assert {path.stem for path in TRICKS} >= {"always_raising_stubs", "nan_outputs", "lying_objects",
                                              "visible_lookup_tables", "look_ahead_model"}


@pytest.mark.parametrize("style", STYLES, ids=[path.stem for path in STYLES])
def test_complete_solution_in_another_style_scores_100(graded, style):
    report = graded[f"style:{style.stem}"]
    assert report.total == report.max_total == 100, f"{style.stem} scored {report.total}:\n{_failures(report)}"
    assert report.problems == [], report.problems


@pytest.mark.parametrize("style,grade_id", SWAPS, ids=[_swap_id(*swapped) for swapped in SWAPS])
def test_single_component_swap_scores_full_points(graded, style, grade_id):
    report = graded[f"swap:{_swap_id(style, grade_id)}"]
    assert report.total == report.max_total, (
        f"{grade_id} from {style.stem} scored {report.total}/{report.max_total}:\n{_failures(report)}")


@pytest.mark.parametrize("trick", TRICKS, ids=[path.stem for path in TRICKS])
def test_trick_gains_nothing_over_the_untouched_release(graded, trick):
    report, release = graded[f"trick:{trick.stem}"], graded["release"]
    gained = {c.id: c.points for c in report.components if c.points > 0}
    assert report.total == release.total == 0, f"{trick.stem} scored {report.total} ({gained}); the release " \
                                               f"{release.total}. Passing checks:\n" + "\n".join(
        f"{c.id} {t.test}" for c in report.components for t in c.tests if t.passed)
