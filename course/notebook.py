"""Turn a notebook into a module of its definitions, without running its tests or training.

One loader serves the grader (a student's submission inside the sandbox), the solution export
(`solutions/` from `source/`) and the tests. Only top-level imports, functions, classes and
UPPER_CASE constants are kept; every other statement (test calls, training, plots, prints) is
dropped. Cells that nbgrader marks as tests are skipped whole, and a cell with a syntax error is
reported and skipped so that the rest of the notebook still counts. The statements are executed
only inside the grading sandbox (`course/grading/sandbox_child.py`), one at a time.
"""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

# CPython 3.11's ast.parse is not thread-safe (gh-106905); the harness grades in threads.
_PARSE_LOCK = threading.Lock()

KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class NotebookError(ValueError):
    """A file that is not a readable notebook."""


@dataclass
class Definitions:
    """The kept top-level statements of a notebook, in order, and the problems met on the way."""

    statements: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return "\n\n\n".join(self.statements) + "\n"


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


def _is_test_cell(cell: dict) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    # IPython magics and shell escapes are not Python; blank them so line numbers still match.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def _is_constant(node: ast.stmt) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return isinstance(node, ast.Assign | ast.AnnAssign) and all(
        isinstance(t, ast.Name) and t.id.isupper() for t in targets
    )


def extract_definitions(path: str | Path) -> Definitions:
    """The definitions of the notebook at `path` (see the module docstring for what is kept)."""
    found = Definitions()
    for number, cell in enumerate(read_cells(path), start=1):
        if cell.get("cell_type") != "code" or _is_test_cell(cell):
            continue
        text = _cell_source(cell)
        try:
            with _PARSE_LOCK:
                tree = ast.parse(text)
        except SyntaxError as error:
            found.problems.append(f"code cell {number}: syntax error on line {error.lineno}: {error.msg}")
            continue
        for node in tree.body:
            if isinstance(node, KEPT_STATEMENTS) or _is_constant(node):
                found.statements.append(ast.get_source_segment(text, node, padded=False))
    return found
