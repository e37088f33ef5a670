"""Mutants: realistic buggy implementations that the hidden suites must catch, each on its own component.

A mutant is a file `tests/mutants/<component id>/<name>.py` whose docstring says the bug, which
defines the buggy class or function(s) in full, as a student would write them, and which sets
`BREAKS = ("<component id>", ...)`: the components allowed (and required) to lose points. A mutant
submission is the reference submission (the release with every solution cell filled in) with the
mutant's code appended as a last cell, so its definitions replace the reference ones by name.
Mutant files are only parsed here, never imported or run in this process.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.components import BY_ID
from course.submissions import fill_release, with_appended_code

REPO = Path(__file__).resolve().parents[1]
MUTANTS = REPO / "tests" / "mutants"
RELEASE = REPO / "release" / "tinygpt" / "tinygpt.ipynb"
SOURCE = REPO / "source" / "tinygpt" / "tinygpt.ipynb"


class MutantError(ValueError):
    """A mutant file without a docstring, without BREAKS, or naming unknown components."""


@dataclass(frozen=True)
class Mutant:
    component: str  # the folder it lives in
    name: str
    bug: str  # the docstring: what is wrong
    breaks: tuple[str, ...]
    code: str

    @property
    def id(self) -> str:
        return f"{self.component}/{self.name}"


def mutant_files(folder: Path = MUTANTS) -> list[Path]:
    """Every mutant file, sorted: `<component id>/<name>.py` (test modules and helpers excluded)."""
    return sorted(path for path in Path(folder).glob("*/*.py") if not path.name.startswith(("test_", "_")))


def _breaks(tree: ast.Module, path: Path) -> tuple[str, ...]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "BREAKS" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(value, tuple) and value and all(isinstance(item, str) for item in value):
                return value
            break
    raise MutantError(f"{path}: expected BREAKS = (\"<component id>\", ...), a non-empty tuple of component ids")


def load_mutant(path: Path) -> Mutant:
    """Parse one mutant file (without running it) and check its docstring and BREAKS."""
    path = Path(path)
    code = path.read_text(encoding="utf-8")
    tree = ast.parse(code, filename=str(path))
    bug = ast.get_docstring(tree)
    if not bug:
        raise MutantError(f"{path}: expected a module docstring saying what the bug is")
    breaks = _breaks(tree, path)
    unknown = [component for component in (path.parent.name, *breaks) if component not in BY_ID]
    if unknown:
        raise MutantError(f"{path}: unknown component ids {unknown}; expected some of {sorted(BY_ID)}")
    return Mutant(path.parent.name, path.stem, bug, breaks, code)


def mutants(folder: Path = MUTANTS) -> list[Mutant]:
    return [load_mutant(path) for path in mutant_files(folder)]


def reference_submission(release: Path = RELEASE, source: Path = SOURCE) -> nbformat.NotebookNode:
    """The release notebook with every solution cell solved: what a perfect student hands in."""
    return fill_release(release, source)


def mutant_submission(mutant: Mutant, release: Path = RELEASE, source: Path = SOURCE) -> nbformat.NotebookNode:
    """The reference submission with the mutant's code as a last cell (its definitions win by name)."""
    return with_appended_code(reference_submission(release, source), mutant.code)
