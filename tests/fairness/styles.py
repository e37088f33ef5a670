"""Correct solutions in other styles (tests/fairness/solutions/*.py), as notebooks a student could hand in.

A style file is valid Python: its imports, then one section per solution cell, each starting with a line
`# %% <grade id>` (the nbgrader id of the release's solution cell). The imports above the first marker
only keep the file importable and ruff-clean; the release's given first cell provides the same names.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from course.mutants import RELEASE, reference_submission
from course.submissions import with_cell

SOLUTIONS = Path(__file__).resolve().parent / "solutions"
MARKER = re.compile(r"^# %% (\w+)$", re.MULTILINE)
MODEL_PARTS = {"positional_encoding", "causal_mask", "attention", "multi_head_attention", "layer_norm",
               "transformer_block", "tinygpt"}  # what end_to_end trains: a swap here is graded there too


def style_files() -> list[Path]:
    return sorted(SOLUTIONS.glob("[!_]*.py"))


def style_cells(path: Path) -> dict[str, str]:
    """grade id -> the code of that solution cell, in file order."""
    parts = MARKER.split(path.read_text(encoding="utf-8"))[1:]
    return {grade_id: code.strip() + "\n" for grade_id, code in zip(parts[::2], parts[1::2], strict=True)}


def component_of_cells(release: Path = RELEASE) -> dict[str, str]:
    """grade id of each solution cell -> the component whose hidden grade cell (`hidden_<id>`) follows it."""
    found, pending = {}, []
    for cell in nbformat.read(release, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            pending.append(meta["grade_id"])
        elif meta.get("grade") and str(meta.get("grade_id", "")).startswith("hidden_"):
            found.update({grade_id: meta["grade_id"].removeprefix("hidden_") for grade_id in pending})
            pending = []
    return found


def full_solution(path: Path) -> nbformat.NotebookNode:
    """The release with every solution cell of the style in `path` (other cells: the reference's)."""
    notebook = reference_submission()
    for grade_id, code in style_cells(path).items():
        notebook = with_cell(notebook, grade_id, code)
    return notebook


def swap(path: Path, grade_id: str) -> nbformat.NotebookNode:
    """The reference submission with one solution cell taken from the style in `path`."""
    return with_cell(reference_submission(), grade_id, style_cells(path)[grade_id])
