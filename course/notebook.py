"""Turn a notebook into a module of its definitions, the way Jupyter runs it but without training or plots.

One loader serves the grader (a student's submission inside the sandbox), the solution export
(`solutions/` from `source/`) and the tests. What runs, cell by cell (docs/API.md says the same to
students):

- check cells (nbgrader grade cells and locked cells that are not solution cells): nothing;
- given cells (code cells of the release notebook that are not solution cells, found by cell id or by
  identical source, edited or not): only imports, functions, classes and UPPER_CASE constants, so that
  the given training, plotting and printing code never runs;
- solution cells and cells the student added: every top-level statement, as IPython runs it, except
  expression statements (a line whose result Jupyter would only show: `print(...)`, `plt.show()`,
  `model.fit(...)`, `np.tril?`) and statements that train or plot (they call `fit`, `train_step`,
  `train_loop`, `generate`, `generate_cached` or use matplotlib). So module-level constants, aliases and
  helpers defined there are available to the classes.

IPython syntax (`?`, `%magic`, `!shell`) goes through IPython's own input transformer first; the
statements then see a minimal `get_ipython()` whose magics and shell commands do nothing (a shell
command is reported, not run). A `%%time`/`%%timeit`/`%%capture` cell runs its body; other cell
magics (`%%bash`, `%%writefile`, ...) are not Python and are reported. A cell with a syntax error
is reported and skipped so that the rest of the notebook still counts. The statements are executed
only inside the grading sandbox (`course/grading/sandbox_child.py`), one at a time.
"""

from __future__ import annotations

import ast
import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from course.components import ASSIGNMENT, NOTEBOOK

RELEASE = Path(__file__).resolve().parents[1] / "release" / ASSIGNMENT / NOTEBOOK

# CPython 3.11's ast.parse is not thread-safe (gh-106905); the harness grades in threads.
_PARSE_LOCK = threading.Lock()

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
TRAINING_CALLS = frozenset({"fit", "train_step", "train_loop", "generate", "generate_cached"})
PLOTTING_NAMES = frozenset({"plt", "matplotlib", "pyplot"})
BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})  # run their body as Python

# Bound in the student's module when a kept statement uses IPython syntax (after the transformer).
GRADING_SHELL = '''def get_ipython():
    """While grading, IPython magics and shell commands do nothing (docs/API.md, "What the grader runs")."""
    class GradingShell:
        def run_line_magic(self, magic_name, line, _stack_depth=1):
            return None

        def run_cell_magic(self, magic_name, line, cell):
            return None

        def system(self, cmd):
            return None

        def getoutput(self, cmd, split=True, depth=0):
            return []

    return GradingShell()'''


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


def _is_constant(node: ast.stmt) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return isinstance(node, ast.Assign | ast.AnnAssign) and all(
        isinstance(t, ast.Name) and t.id.isupper() for t in targets
    )


def _called_name(call: ast.Call) -> str | None:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)


def _trains_or_plots(node: ast.stmt) -> bool:
    """A statement that calls a training or generation routine or uses matplotlib."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call) and _called_name(inner) in TRAINING_CALLS:
            return True
        if isinstance(inner, ast.Name) and inner.id in PLOTTING_NAMES:
            return True
    return False


def _runs(node: ast.stmt, given: bool) -> bool:
    if isinstance(node, DEFINITIONS):
        return True
    if given:
        return _is_constant(node)
    return not isinstance(node, ast.Expr) and not _trains_or_plots(node)


@functools.cache
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def as_python(text: str) -> tuple[str | None, str | None]:
    """(the cell as Python, as IPython would run it, or None; a note when something is not run)."""
    lines = text.lstrip().splitlines()
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        if magic not in BODY_CELL_MAGICS:
            return None, f"a %%{magic} cell is not Python: not run while grading"
        text = "\n".join(lines[1:])
    if not any(mark in text for mark in ("%", "!", "?")):
        return text, None  # plain Python: nothing for IPython to transform
    with _PARSE_LOCK:
        return _transformer().transform_cell(text), None


def _shell_commands(tree: ast.Module) -> list[str]:
    """The commands of `!shell` lines (after IPython's transformer: get_ipython().system/getoutput(...))."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("system", "getoutput") and isinstance(node.func.value, ast.Call)
                and getattr(node.func.value.func, "id", None) == "get_ipython"):
            found.append(ast.unparse(node.args[0]) if node.args else "")
    return found


def extract_definitions(path: str | Path, given: GivenCells | None = None) -> Definitions:
    """What the grader runs of the notebook at `path` (see the module docstring); `given` defaults to the
    release's given cells."""
    given = given_cells() if given is None else given
    found = Definitions()
    uses_shell = False
    for number, cell in enumerate(read_cells(path), start=1):
        if cell.get("cell_type") != "code" or _is_check_cell(cell):
            continue
        is_given = not _is_solution(cell) and cell in given
        text, note = as_python(_text(cell))
        if text is None:
            found.problems.append(f"code cell {number}: {note}")
            continue
        try:
            with _PARSE_LOCK:
                tree = ast.parse(text)
        except SyntaxError as error:
            found.problems.append(f"code cell {number}: syntax error on line {error.lineno}: {error.msg}")
            continue
        found.problems += [f"code cell {number}: shell command !{command} not run while grading"
                           for command in _shell_commands(tree) if not is_given]
        for node in tree.body:
            if _runs(node, is_given):
                statement = ast.get_source_segment(text, node, padded=False)
                uses_shell = uses_shell or "get_ipython" in statement
                found.statements.append(statement)
    if uses_shell:
        found.statements.insert(0, GRADING_SHELL)
    return found
