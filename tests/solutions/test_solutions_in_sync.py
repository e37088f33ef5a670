"""solutions/tinygpt.py is exactly what the exporter makes from the source notebook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from course.solutions import SOURCE, TARGET, export_solutions


def test_committed_solutions_match_the_source_notebook(tmp_path: Path) -> None:
    fresh = tmp_path / "tinygpt.py"
    export_solutions(SOURCE, fresh)
    assert fresh.read_text(encoding="utf-8") == TARGET.read_text(encoding="utf-8"), \
        "solutions/tinygpt.py is out of date: run `python -m course.solutions` and commit it"


def test_export_does_not_depend_on_where_the_course_folder_is(tmp_path: Path) -> None:
    copy = tmp_path / "course" / "source" / "tinygpt" / "tinygpt.ipynb"
    copy.parent.mkdir(parents=True)
    shutil.copy(SOURCE, copy)
    export_solutions(copy, tmp_path / "tinygpt.py")
    assert (tmp_path / "tinygpt.py").read_bytes() == TARGET.read_bytes()


def test_exported_module_defines_the_whole_contract() -> None:
    import solutions.tinygpt as reference
    from course.components import COMPONENTS

    missing = [name for c in COMPONENTS for name in c.names if not hasattr(reference, name)]
    assert not missing, f"the reference does not define {missing}"
    assert reference.__doc__.splitlines()[2].startswith("GENERATED from source/tinygpt/tinygpt.ipynb")


def test_unused_imports_are_left_out_and_used_ones_kept(tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os\nimport math\n\nimport numpy as np\n\nfrom tinytorch import Tensor, nn"),
        nbformat.v4.new_code_cell("def area(r):\n    return math.pi * r**2\n\n\nprint(area(1))"),
        nbformat.v4.new_code_cell("import math\n\n\nclass Zero(nn.Module):\n    pass"),
    ])
    nbformat.write(notebook, tmp_path / "small.ipynb")
    export_solutions(tmp_path / "small.ipynb", tmp_path / "small.py")
    body = (tmp_path / "small.py").read_text(encoding="utf-8").split('"""\n', 2)[-1]
    assert body == ("\nimport math\n\nfrom tinytorch import nn\n\n\n"
                    "def area(r):\n    return math.pi * r**2\n\n\nclass Zero(nn.Module):\n    pass\n")


def test_a_notebook_that_does_not_load_is_refused(tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def broken(:\n    pass")])
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    with pytest.raises(ValueError, match="syntax error"):
        export_solutions(tmp_path / "broken.ipynb", tmp_path / "broken.py")
