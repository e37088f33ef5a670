"""Run a notebook in a fresh python3 kernel, the way a student (or nbgrader) runs it top to bottom."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course.handout_check import kernel_config

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "source" / "tinygpt" / "tinygpt.ipynb"
RELEASE = REPO / "release" / "tinygpt" / "tinygpt.ipynb"


def execute(notebook: Path, workdir: Path, timeout: int = 600, probes: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """Execute a copy of `notebook` in `workdir`, errors allowed (recorded as outputs), and return it.
    `probes` are code cells run after the notebook's own, in the same kernel (to read its variables).

    The kernel inherits this environment: the repository importable (tinytorch, course), plots off screen,
    a 200-step training run (`TINYGPT_TRAIN_STEPS`) and not autograding (the hidden cells are comments: the
    grader fills them, nothing runs them). It is started as check.py starts it.
    """
    copy = workdir / notebook.name
    shutil.copy(notebook, copy)
    executed = nbformat.read(copy, as_version=4)
    executed.cells.extend(nbformat.v4.new_code_cell(source) for source in probes)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        env.setenv("MPLBACKEND", "Agg")
        env.setenv("TINYGPT_TRAIN_STEPS", "200")  # the training cell's short run (the default takes a minute)
        env.delenv("NBGRADER_EXECUTION", raising=False)
        env.delenv("OPENBLAS_NUM_THREADS", raising=False)  # the notebook sets its BLAS threads itself
        NotebookClient(executed, kernel_name="python3", timeout=timeout, allow_errors=True, config=kernel_config(),
                       resources={"metadata": {"path": str(workdir)}}).execute()
    return executed


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def errors(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.get("name") == "stdout")
