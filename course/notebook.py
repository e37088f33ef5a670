"""Turn a notebook into a module of its definitions, the way Jupyter runs it but without training or plots.

One loader serves the grader (a student's submission inside the sandbox), the solution export
(`solutions/` from `source/`) and the tests. This module reads the notebook's cells as plain data:
check cells (nbgrader grade cells and locked cells that are not solution cells) are dropped, and each
other code cell is marked given (a code cell of the release notebook that is not a solution cell,
found by cell id or by identical source, edited or not) or not. What then runs of each cell is
`course.definitions.select_definitions`'s choice (parsing student text: only inside the grading
sandbox, `course/grading/sandbox_child.py`, which also executes the statements one at a time).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from course.components import ASSIGNMENT, NOTEBOOK
from course.definitions import GRADING_SHELL, Definitions, select_definitions

RELEASE = Path(__file__).resolve().parents[1] / "release" / ASSIGNMENT / NOTEBOOK


class NotebookError(ValueError):
    """A file that is not a readable notebook."""


def read_cells(path: str | Path) -> list[dict]:
    """The cells of a notebook file; `NotebookError` says what is wrong with a broken file."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook (expected an .ipynb file)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotebookError(f"{path}: not valid notebook JSON ({error}); expected a Jupyter .ipynb file") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{path}: JSON without a 'cells' list; expected a Jupyter .ipynb file")
    return notebook["cells"]


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _is_solution(cell: dict) -> bool:
    return bool(_nbgrader(cell).get("solution"))


def _is_check_cell(cell: dict) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade") or meta.get("locked")) and not meta.get("solution")


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


@dataclass(frozen=True)
class GivenCells:
    """The code cells the release hands out that are not solution cells: their ids and their sources."""

    ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    def __contains__(self, cell: dict) -> bool:
        return cell.get("id") in self.ids or _text(cell).strip() in self.sources


@functools.cache
def given_cells(release: Path = RELEASE) -> GivenCells:
    """The given cells of the release notebook (none when there is no release yet)."""
    if not release.is_file():
        return GivenCells()
    cells = [c for c in read_cells(release) if c.get("cell_type") == "code" and not _is_solution(c)]
    return GivenCells(frozenset(str(c["id"]) for c in cells if c.get("id")),
                      frozenset(_text(c).strip() for c in cells if _text(c).strip()))


def code_cells(path: str | Path, given: GivenCells | None = None) -> list[dict]:
    """The notebook's code cells that are not check cells, as plain data for `select_definitions`:
    {"number": position among all cells (from 1), "text": source, "given": a given cell of the release}."""
    given = given_cells() if given is None else given
    return [{"number": number, "text": _text(cell), "given": not _is_solution(cell) and cell in given}
            for number, cell in enumerate(read_cells(path), start=1)
            if cell.get("cell_type") == "code" and not _is_check_cell(cell)]


def extract_definitions(path: str | Path, given: GivenCells | None = None) -> Definitions:
    """What the grader runs of the notebook at `path` (see `course.definitions`), parsed in this process:
    for trusted notebooks (the solution export, tests); the grader parses submissions in its sandbox."""
    return select_definitions(code_cells(path, given))


# GRADING_SHELL and Definitions are re-exported for the loader's users (the solution export, tests).
__all__ = ["GRADING_SHELL", "Definitions", "NotebookError", "code_cells", "extract_definitions", "read_cells"]
