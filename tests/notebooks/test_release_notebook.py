"""The student release: every cell either runs or stops at a stub, and nothing of the solutions leaks."""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.notebooks.notebook_runner import RELEASE, SOURCE, errors, execute, grade_id

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "course.grading.nbcell")


def code_lines(notebook: nbformat.NotebookNode) -> set[str]:
    return {line.strip() for cell in notebook.cells if cell.cell_type == "code" for line in cell.source.splitlines()}


def solution_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """The lines between BEGIN and END SOLUTION, stripped; lines of brackets alone are not telling."""
    regions = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", "\n".join(
        cell.source for cell in notebook.cells if cell.cell_type == "code"), flags=re.DOTALL)
    return [line.strip() for region in regions for line in region.splitlines() if re.search(r"\w", line)]


@pytest.fixture(scope="module")
def release() -> nbformat.NotebookNode:
    return nbformat.read(RELEASE, as_version=4)


def test_no_solution_line_is_in_the_release(release: nbformat.NotebookNode) -> None:
    source_solutions = solution_lines(nbformat.read(SOURCE, as_version=4))
    assert len(source_solutions) > 150, "the source notebook's solution regions look empty"
    leaked = sorted(set(source_solutions) & code_lines(release))
    assert not leaked, f"solution lines found in the release: {leaked}"


def test_no_markers_or_hidden_tests_in_the_release(release: nbformat.NotebookNode) -> None:
    text = RELEASE.read_text(encoding="utf-8")
    found = [marker for marker in MARKERS if marker in text]
    assert not found, f"the release contains {found}"
    assert text.count("raise NotImplementedError()") >= 20, "every solution region should become a stub"


def test_release_keeps_the_graded_cells(release: nbformat.NotebookNode) -> None:
    from course.components import COMPONENTS

    graded = {grade_id(cell): cell.metadata.nbgrader.get("points") for cell in release.cells
              if cell.metadata.get("nbgrader", {}).get("grade") and cell.metadata.nbgrader.get("points")}
    assert graded == {c.grade_id: c.points for c in COMPONENTS}
    assert sum(graded.values()) == 100


def test_running_the_release_stops_only_at_stubs(tmp_path) -> None:
    executed = execute(RELEASE, tmp_path)
    raised = [(number, grade_id(cell), error.ename, error.evalue)
              for number, cell in enumerate(executed.cells) for error in errors(cell)]
    others = [entry for entry in raised if entry[2] != "NotImplementedError"]
    assert not others, f"cells raised something other than NotImplementedError: {others}"
    stubbed_checks = {entry[1] for entry in raised if entry[1]}
    expected = {grade_id(cell) for cell in executed.cells if (grade_id(cell) or "").endswith("_checks")}
    assert stubbed_checks == expected, (
        f"every visible check should stop at a stub; these did not: {expected - stubbed_checks}"
    )
