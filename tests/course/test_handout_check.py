"""check.py (course/handout_check.py), the students' one-line check: per part done / not done / failing,
exit 1 on the untouched release and 0 on a notebook filled with the reference solutions."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course.handout_check import parts, status
from course.submissions import fill_release

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "release" / "tinygpt" / "tinygpt.ipynb"
SOURCE = ROOT / "source" / "tinygpt" / "tinygpt.ipynb"
PART_TITLES = [f"Part {n}." for n in range(1, 12)]


def _check(notebook: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(notebook.parent),
           "TINYGPT_TRAIN_STEPS": "30"}
    return subprocess.run([sys.executable, str(ROOT / "course" / "handout_check.py"), str(notebook)],
                          capture_output=True, text=True, env=env, cwd=notebook.parent, timeout=900)


def _lines(output: str) -> dict[str, str]:
    """{part title prefix: status} from check.py's table."""
    table = {}
    for line in output.splitlines():
        for title in ["Setup", *PART_TITLES, "Train your model", "Extension"]:
            if line.startswith(title):
                table[title] = line.split("  ", 1)[1].strip() if "  " in line else ""
    return table


def test_untouched_release_fails_with_every_part_not_done(tmp_path):
    notebook = tmp_path / "tinygpt.ipynb"
    notebook.write_bytes(RELEASE.read_bytes())
    result = _check(notebook)
    assert result.returncode == 1, result.stdout + result.stderr
    table = _lines(result.stdout)
    assert table["Setup"] == "done"
    assert table["Part 1."] == "not done (NotImplementedError in CharTokenizer.fit)"
    assert all(table[title].startswith("not done") for title in PART_TITLES), table
    assert "1 of 13 required parts done" in result.stdout, result.stdout  # only the imports


def test_reference_notebook_passes_with_every_part_done(tmp_path):
    notebook = tmp_path / "tinygpt.ipynb"
    nbformat.write(fill_release(RELEASE, SOURCE), notebook)
    result = _check(notebook)
    assert result.returncode == 0, result.stdout + result.stderr
    table = _lines(result.stdout)
    assert set(table.values()) == {"done"} and len(table) == 14, table
    assert "13 of 13 required parts done" in result.stdout
    assert "WARNING" not in result.stderr, f"check.py should print no warning, printed: {result.stderr[-500:]}"
    assert not nbformat.read(notebook, as_version=4).cells[1].outputs, "check.py runs a copy: the file keeps no outputs"


def _cell(source: str, *outputs: dict, count: int | None = 1) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs, cell.execution_count = [nbformat.from_dict(o) for o in outputs], count
    return cell


@pytest.mark.parametrize(("cells", "expected"), [
    ([_cell("x = 1"), _cell("check()")], "done"),
    ([_cell("x = 1", {"output_type": "error", "ename": "AssertionError", "evalue": "itos should be ' ab'\nmore",
                      "traceback": []})], "failing: AssertionError: itos should be ' ab'"),
    ([_cell("f()", {"output_type": "error", "ename": "NotImplementedError", "evalue": "",
                    "traceback": ["\x1b[0;32mCell In[2], line 4, in \x1b[0;36mLayerNorm.forward\x1b[0m"]})],
     "not done (NotImplementedError in LayerNorm.forward)"),
    ([_cell("x = 1", count=None)], "not run (an earlier cell stopped the notebook)"),
])
def test_status_of_a_part(cells, expected):
    assert status(cells) == expected


def test_parts_are_the_level_two_sections_with_code():
    notebook = nbformat.read(RELEASE, as_version=4)
    titles = [title for title, _ in parts(notebook)]
    assert titles[0] == "Setup (imports)"
    assert [t for t in titles if t.startswith("Part ")] == [t for t in titles if t.startswith(tuple(PART_TITLES))]
    assert len([t for t in titles if t.startswith("Part ")]) == 11
    assert any(t.startswith("Extension (optional") for t in titles)
