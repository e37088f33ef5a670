"""A submission's nbgrader cells made exactly the release's, so that nbgrader can always record it.

Students delete, duplicate, rename and re-point cells, or edit their points. The harness does not care
(it grades the notebook's definitions), but nbgrader refuses such a notebook or loses grades. So before
nbgrader sees a submission, `match_release` rebuilds its nbgrader cells from the release: the student's
solution cells keep their code, locked and grade cells become the release's, cells the release does not
know (or second copies) become ordinary cells, missing ones come back. Each change is a plain sentence
for the student's feedback. A notebook the intake refuses (`course.grading.intake.notebook_problem`: cells
that are not objects, nbgrader metadata of the wrong types, ...) is recorded as the release itself, with the
reason: the harness scores it zero for the same reason.
"""

from __future__ import annotations

import copy

import nbformat
from nbformat.v4 import new_markdown_cell

from course.grading.intake import notebook_problem
from course.grading.report import markdown_text

FLAGS = ("grade", "solution", "locked", "points")


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}  # both objects: `notebook_problem` checked


def _grade_id(cell) -> str | None:
    meta = _nbgrader(cell)
    return meta.get("grade_id") if any(meta.get(flag) for flag in ("grade", "solution", "locked", "task")) else None


def _plain(cell):
    cell = copy.deepcopy(cell)
    cell.metadata.pop("nbgrader", None)
    return cell


def _changes(cell, master) -> list[str]:
    mine, theirs = _nbgrader(cell), _nbgrader(master)
    changes = [f"{flag} {mine.get(flag)!r} (release: {theirs.get(flag)!r})" for flag in FLAGS
               if flag in theirs and mine.get(flag) != theirs.get(flag)]
    if cell.cell_type != master.cell_type:
        changes.append(f"a {cell.cell_type} cell (release: {master.cell_type})")
    return changes


def match_release(submitted: nbformat.NotebookNode,
                  release: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """(a copy of `submitted` with exactly the release's nbgrader cells, what had to change)."""
    problem = notebook_problem(submitted)
    if problem:
        return copy.deepcopy(release), [f"your notebook could not be graded ({problem}): the release was recorded"]
    masters = {_grade_id(cell): cell for cell in release.cells if _grade_id(cell)}
    order = list(masters)
    problems: list[str] = []
    cells, kept = [], set()
    for cell in submitted.cells:
        grade_id = _grade_id(cell)
        if grade_id is None:
            cells.append(cell)
            continue
        master = masters.get(grade_id)
        if master is None:
            problems.append(f"cell {grade_id!r} is not in the release: treated as an ordinary cell")
            cells.append(_plain(cell))
        elif grade_id in kept:
            problems.append(f"cell {grade_id!r} appears more than once: the copy was treated as an ordinary cell")
            cells.append(_plain(cell))
        else:
            kept.add(grade_id)
            changes = _changes(cell, master)
            if changes:
                problems.append(f"cell {grade_id!r} was changed ({'; '.join(changes)}): restored from the release")
            fixed = copy.deepcopy(master)
            if _nbgrader(master).get("solution"):  # the student's answer stays; its cell is the release's
                fixed.source = cell.source
            cells.append(fixed)
    for index, grade_id in enumerate(order):
        if grade_id in kept:
            continue
        problems.append(f"cell {grade_id!r} was missing: restored from the release")
        before = set(order[:index])
        at = max((i + 1 for i, cell in enumerate(cells) if _grade_id(cell) in before), default=0)
        cells.insert(at, copy.deepcopy(masters[grade_id]))
        kept.add(grade_id)
    result = copy.deepcopy(submitted)
    result.cells = _unique_ids(cells)
    return result, problems


def _unique_ids(cells: list) -> list:
    """nbformat 4.5 cell ids made unique (a restored cell may share its id with the student's renamed copy)."""
    seen = set()
    for cell in cells:
        if "id" in cell and cell.id in seen:
            cell.id = nbformat.v4.new_code_cell().id
        seen.add(cell.get("id"))
    return cells


def problems_cell(problems: list[str]) -> nbformat.NotebookNode:
    """A Markdown cell telling the student what was restored (first cell of nbgrader's feedback)."""
    lines = "\n".join(f"- {markdown_text(problem)}" for problem in problems)
    return new_markdown_cell("**Grader's note:** your notebook's graded cells differed from the release. Your code "
                             f"was graded as submitted; these cells were restored for the record:\n\n{lines}")
