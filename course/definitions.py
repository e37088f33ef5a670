"""Which top-level statements of a notebook's code cells the grader runs: parse, IPython-transform, select.

`select_definitions` takes plain data (each code cell's number, text and whether the release gives it)
and returns the statements to run and the problems met (docs/API.md, "What the grader runs", says the
same to students):

- given cells (code cells of the release that are not solution cells): only imports, functions,
  classes and UPPER_CASE constants, so that the given training, plotting and printing code never runs;
- solution cells and cells the student added: every top-level statement, as IPython runs it, except
  expression statements (a line whose result Jupyter would only show: `print(...)`, `plt.show()`,
  `model.fit(...)`, `np.tril?`) and statements that train or plot (they call `fit`, `train_step`,
  `train_loop`, `generate`, `generate_cached` or use matplotlib).

IPython syntax (`?`, `%magic`, `!shell`) goes through IPython's own input transformer first; the
statements then see a minimal `get_ipython()` whose magics and shell commands do nothing (a shell
command is reported, not run). A `%%time`/`%%timeit`/`%%capture` cell runs its body; other cell
magics are reported. A cell with a syntax error is reported and skipped.

Student text is parsed only inside the grading sandbox, under its limits: this module imports only the
standard library (IPython's transformer on first use), so that `course/grading/sandbox_child.py` loads
it as a file of its own. `course.notebook.extract_definitions` runs it in-process on trusted notebooks.
"""

from __future__ import annotations

import ast
import functools
import threading
from dataclasses import dataclass, field

# CPython 3.11's ast.parse is not thread-safe (gh-106905); the tests parse in threads.
_PARSE_LOCK = threading.Lock()

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
TRAINING_CALLS = frozenset({"fit", "train_step", "train_loop", "generate", "generate_cached"})
PLOTTING_NAMES = frozenset({"plt", "matplotlib", "pyplot"})
BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})  # run their body as Python
TRANSFORMER_MODULE = "IPython.core.inputtransformer2"

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


@dataclass
class Definitions:
    """The kept top-level statements of a notebook, in order, and the problems met on the way."""

    statements: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return "\n\n\n".join(self.statements) + "\n"


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
    import importlib

    return importlib.import_module(TRANSFORMER_MODULE).TransformerManager()


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


def select_definitions(cells: list[dict]) -> Definitions:
    """What the grader runs of these code cells, each {"number": int, "text": str, "given": bool}."""
    found = Definitions()
    uses_shell = False
    for cell in cells:
        number, is_given = cell["number"], cell["given"]
        try:
            text, note = as_python(cell["text"])
            if text is not None:
                with _PARSE_LOCK:
                    tree = ast.parse(text)
        except SyntaxError as error:
            found.problems.append(f"code cell {number}: syntax error on line {error.lineno}: {error.msg}")
            continue
        except (RuntimeError, ValueError, MemoryError) as error:  # IPython's transformer that never settles,
            # a parser out of stack (RecursionError) or memory: Jupyter could not run the cell either
            found.problems.append(f"code cell {number}: cannot be read as Python ({type(error).__name__}: "
                                  f"{str(error)[:200]})")
            continue
        if text is None:
            found.problems.append(f"code cell {number}: {note}")
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
