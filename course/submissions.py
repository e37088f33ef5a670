"""Make student submissions from the release: the reference, the untouched release, partial ones, mutants.

A submission is what a student hands in: the release notebook with some solution cells filled in.
The demo, the course check and the mutation check all build their submissions here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def solved_cells(source: Path) -> dict[str, str]:
    """grade_id -> the solution cell's code as a student would write it (markers removed)."""
    notebook = nbformat.read(source, as_version=4)
    return {
        _grade_id(cell): "\n".join(
            line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS
        )
        for cell in notebook.cells
        if _is_solution(cell)
    }


def fill_release(release: Path, source: Path, grade_ids: set[str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with the solution cells in `grade_ids` (all when None) solved."""
    solved = solved_cells(source)
    notebook = nbformat.read(release, as_version=4)
    for cell in notebook.cells:
        gid = _grade_id(cell)
        if _is_solution(cell) and gid in solved and (grade_ids is None or gid in grade_ids):
            cell.source = solved[gid]
    return notebook


def with_appended_code(notebook: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    """A copy of `notebook` with one more code cell at the end (a later definition wins by name)."""
    notebook = copy.deepcopy(notebook)
    notebook.cells.append(nbformat.v4.new_code_cell(code))
    return notebook


def write_submission(notebook: nbformat.NotebookNode, submitted: Path, student: str,
                     assignment: str = "tinygpt", name: str = "tinygpt.ipynb") -> Path:
    """Write `notebook` where nbgrader expects it: submitted/<student>/<assignment>/<name>."""
    path = submitted / student / assignment / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def with_cell(notebook: nbformat.NotebookNode, grade_id: str, code: str) -> nbformat.NotebookNode:
    """A copy of `notebook` whose solution cell `grade_id` holds `code` instead (a student's own answer)."""
    notebook = copy.deepcopy(notebook)
    cells = [cell for cell in notebook.cells if _grade_id(cell) == grade_id and _is_solution(cell)]
    if len(cells) != 1:
        known = sorted(_grade_id(cell) for cell in notebook.cells if _is_solution(cell))
        raise ValueError(f"no solution cell {grade_id!r} in the notebook; expected one of {known}")
    cells[0].source = code
    return notebook
