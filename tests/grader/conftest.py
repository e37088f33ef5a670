"""Fixtures of the grader's tests."""

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.grader.helpers import write_notebook

collect_ignore = ["suites"]  # graded by the harness in the tests, not collected as tests themselves


@pytest.fixture
def notebook(tmp_path: Path) -> Callable[..., Path]:
    """notebook(*cells, name=...) -> the path of a fresh notebook with those code cells."""
    def make(*cells: str, name: str = "submission.ipynb") -> Path:
        return write_notebook(tmp_path / name, *cells)
    return make
