"""The instructor notebook runs top to bottom with every visible check passing (solutions in place)."""

from __future__ import annotations

import nbformat
import pytest

from tests.notebooks.notebook_runner import SOURCE, errors, execute, grade_id, stdout


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return execute(SOURCE, tmp_path_factory.mktemp("source"))


def test_no_cell_raises(executed: nbformat.NotebookNode) -> None:
    failures = [f"cell {number} ({grade_id(cell) or 'plain'}): {error.ename}: {error.evalue}"
                for number, cell in enumerate(executed.cells) for error in errors(cell)]
    assert not failures, "cells raised:\n" + "\n".join(failures)


def test_every_visible_check_says_it_passed(executed: nbformat.NotebookNode) -> None:
    checks = [cell for cell in executed.cells if cell.cell_type == "code"
              and cell.metadata.get("nbgrader", {}).get("locked") and not cell.metadata["nbgrader"].get("grade")]
    assert len(checks) == 12, f"expected 12 visible check cells (11 parts and the KV cache), found {len(checks)}"
    for cell in checks:
        assert "✓" in stdout(cell) and "checks passed." in stdout(cell), \
            f"{grade_id(cell)} should print its ✓ lines and 'All ... checks passed.', printed:\n{stdout(cell)}"


def test_default_training_beats_the_unigram_baseline(executed: nbformat.NotebookNode) -> None:
    """The short run (TINYGPT_TRAIN_STEPS=200, as check.py) already uses context: held-out loss below the unigram."""
    lines = [line for cell in executed.cells if cell.cell_type == "code" for line in stdout(cell).splitlines()]
    held_out = [line for line in lines if line.startswith("held-out loss")]
    assert len(held_out) == 1, "the training cell should print one 'held-out loss ... (unigram ..., ...)' line"
    words = held_out[0].replace("(", " ").replace(",", " ").split()  # held-out loss L unigram U uniform W
    loss, unigram = float(words[2]), float(words[4])
    assert loss < unigram, f"after the default training the held-out loss {loss} should be below the unigram {unigram}"


def test_committed_without_outputs() -> None:
    notebook = nbformat.read(SOURCE, as_version=4)
    dirty = [grade_id(cell) or number for number, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"commit the notebook without outputs or execution counts; cells with them: {dirty}"
    assert notebook.metadata.kernelspec.name == "python3"
