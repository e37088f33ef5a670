"""The loader runs what Jupyter runs of a student's cells (IPython syntax included), never given training or plots."""

from pathlib import Path

import nbformat

from course.mutants import reference_submission
from course.notebook import GRADING_SHELL, extract_definitions
from course.submissions import with_cell


def _statements(tmp_path: Path, *cells: str, grade_id: str | None = None) -> tuple[list[str], list[str]]:
    """The kept statements and problems of the reference submission with these cells added (or one replaced)."""
    notebook = reference_submission()
    if grade_id:
        notebook = with_cell(notebook, grade_id, cells[0])
    else:
        notebook.cells += [nbformat.v4.new_code_cell(code) for code in cells]
    path = tmp_path / "submission.ipynb"
    nbformat.write(notebook, path)
    found = extract_definitions(path)
    return found.statements, found.problems


def test_given_cells_keep_only_imports_and_definitions(tmp_path):
    statements, problems = _statements(tmp_path)
    assert problems == []
    assert not any(s.startswith(("num_steps", "model =", "losses", "text =", "tokenizer")) for s in statements), (
        "given cells that train, plot or print must stay out")
    assert "import numpy as np" in statements


def test_solution_cells_keep_module_level_constants_aliases_and_helpers(tmp_path):
    code = ("base = 10000\nactivation = F.gelu\nscale: float = 0.5\ndef helper(x):\n    return x\n"
            "print('checking')\nhelper(3)\nlosses = trainer.fit(tokens, 10, 4, 8)\nplt.plot([1, 2])\n"
            "class PositionalEncoding(nn.Module):\n    pass\n")
    statements, problems = _statements(tmp_path, code, grade_id="positional_encoding_code")
    assert problems == []
    for kept in ("base = 10000", "activation = F.gelu", "scale: float = 0.5"):
        assert kept in statements, f"{kept!r} should run"
    for dropped in ("print('checking')", "helper(3)", "losses = trainer.fit(tokens, 10, 4, 8)", "plt.plot([1, 2])"):
        assert dropped not in statements, f"{dropped!r} shows, trains or plots: it should not run"


def test_ipython_syntax_goes_through_ipythons_transformer(tmp_path):
    statements, problems = _statements(tmp_path, "np.tril?\n%timeit np.ones(3)\nfiles = !ls\n!pip install torch\n"
                                       "LIMIT = 3")
    assert statements[0] == GRADING_SHELL, "a statement using get_ipython() needs the grading shell"
    assert "files = get_ipython().getoutput('ls')" in statements and "LIMIT = 3" in statements
    assert not any("pinfo" in s or "timeit" in s for s in statements), "help and timing lines only show something"
    assert len(problems) == 2 and all("not run while grading" in p for p in problems), problems


def test_body_cell_magics_run_their_body_and_other_cell_magics_are_reported(tmp_path):
    statements, problems = _statements(tmp_path, "%%time\nTIMED = 1\n", "%%bash\necho hi\n")
    assert "TIMED = 1" in statements
    assert len(problems) == 1 and "%%bash cell is not Python" in problems[0], problems


def test_the_grading_shell_does_nothing(tmp_path):
    namespace: dict = {}
    exec(GRADING_SHELL, namespace)
    shell = namespace["get_ipython"]()
    assert shell.system("rm -rf /") is None and shell.getoutput("ls") == []
    assert shell.run_line_magic("pinfo", "np.tril") is None and shell.run_cell_magic("bash", "", "ls") is None
