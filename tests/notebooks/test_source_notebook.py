"""The instructor notebook runs top to bottom with every visible check passing (solutions in place)."""

from __future__ import annotations

import json

import nbformat
import pytest

from tests.notebooks.notebook_runner import SOURCE, errors, execute, grade_id, stdout

# Run after the notebook in its kernel: the two recordings its reuse table was printed from, as the tracer has them.
REUSE_PROBE = ('import json\n'
               'print("REUSE " + json.dumps({"cnn": sorted(cnn_usage.labels()), "gpt": sorted(gpt_usage.labels())}))')


# The thread count of NumPy's own BLAS (numpy.libs/, in pip's wheels), as the kernel has it after the notebook
# ran. (scikit-learn's digits load SciPy's BLAS too, which the notebook's training never calls.)
BLAS_PROBE = ('import json, threadpoolctl\n'
              'print("BLAS " + json.dumps([pool["num_threads"] for pool in threadpoolctl.threadpool_info()\n'
              '                            if pool["user_api"] == "blas" and "numpy" in pool["filepath"]]))')


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return execute(SOURCE, tmp_path_factory.mktemp("source"), probes=(BLAS_PROBE, REUSE_PROBE))


def test_no_cell_raises(executed: nbformat.NotebookNode) -> None:
    failures = [f"cell {number} ({grade_id(cell) or 'plain'}): {error.ename}: {error.evalue}"
                for number, cell in enumerate(executed.cells) for error in errors(cell)]
    assert not failures, "cells raised:\n" + "\n".join(failures)


def test_every_visible_check_says_it_passed(executed: nbformat.NotebookNode) -> None:
    checks = [cell for cell in executed.cells if cell.cell_type == "code"  # 0-point grade cells, and the KV cache's
              and cell.metadata.get("nbgrader", {}).get("locked") and (grade_id(cell) or "").endswith("_checks")]
    assert len(checks) == 13, f"expected 13 visible check cells (11 parts, end to end, KV cache), found {len(checks)}"
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


def test_the_notebook_runs_numpy_on_one_blas_thread(executed: nbformat.NotebookNode) -> None:
    """The setup cell limits BLAS to one thread (the kernel's environment sets nothing): small matrices, and a
    busy machine made two threads several times slower."""
    probe = [line for line in stdout(executed.cells[-2]).splitlines() if line.startswith("BLAS ")]
    assert len(probe) == 1, f"the probe could not read the BLAS thread pools: {executed.cells[-2].outputs}"
    threads = json.loads(probe[0].removeprefix("BLAS "))
    assert threads == [1], f"NumPy's BLAS should have one thread, has {threads}"


def test_committed_without_outputs() -> None:
    notebook = nbformat.read(SOURCE, as_version=4)
    dirty = [grade_id(cell) or number for number, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"commit the notebook without outputs or execution counts; cells with them: {dirty}"
    assert notebook.metadata.kernelspec.name == "python3"


def _cell_stdout(executed: nbformat.NotebookNode, cell_id: str) -> str:
    cells = [cell for cell in executed.cells if cell.get("id") == cell_id]
    assert len(cells) == 1, f"the notebook should have one cell with id {cell_id!r}"
    return stdout(cells[0])


def test_the_digit_cnn_learns_before_part_1(executed: nbformat.NotebookNode) -> None:
    line = next((line for line in _cell_stdout(executed, "vision-03").splitlines() if "held-out accuracy" in line), "")
    assert line, "the CNN cell should print '... held-out accuracy N%'"
    accuracy = float(line.rsplit(" ", 1)[1].rstrip("%"))
    assert accuracy >= 90, f"the short CNN run should get at least 90% of the held-out digits right: {line}"


def test_the_reuse_table_and_share_are_what_the_tracer_recorded(executed: nbformat.NotebookNode) -> None:
    """Every row, mark and the percentage of the printed table follow from the two recordings themselves."""
    probe = [line for line in stdout(executed.cells[-1]).splitlines() if line.startswith("REUSE ")]
    assert len(probe) == 1, f"the probe could not read cnn_usage and gpt_usage: {executed.cells[-1].outputs}"
    recorded = json.loads(probe[0].removeprefix("REUSE "))
    cnn, gpt = set(recorded["cnn"]), set(recorded["gpt"])
    assert {"op Conv2d", "op MaxPool2d", "module Conv2d", "module Flatten", "optimizer AdamW"} <= cnn
    assert {"module Embedding", "op Softmax", "module Dense", "optimizer AdamW", "loss CrossEntropy"} <= gpt

    lines = _cell_stdout(executed, "reuse-01").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("component"))
    width = len(lines[start]) - 24  # f"{'component':<{width}}  {'CNN':^10}  {'TinyGPT':^10}"
    assert lines[start].split() == ["component", "CNN", "TinyGPT"]
    rows = [line for line in lines[start + 1 :] if line[:width].startswith(("op ", "module ", "optimizer ", "loss "))]
    marks = {line[:width].strip(): (line[width + 2 : width + 12].strip(), line[width + 14 :].strip()) for line in rows}
    assert {label for label, (first, _) in marks.items() if first == "x"} == cnn
    assert {label for label, (_, second) in marks.items() if second == "x"} == gpt
    assert set(marks) == cnn | gpt
    shared = cnn & gpt
    expected = (f"TinyGPT used {len(gpt)} tinytorch components; CNN had already used {len(shared)} of them: "
                f"{len(shared) / len(gpt):.0%}")
    assert expected in lines, f"the share line should read {expected!r}; the cell printed:\n" + "\n".join(lines)
