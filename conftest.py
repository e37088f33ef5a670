"""Loads the grading plugin (`--submission`, `--grading-record`, the `weight` marker) for every test run,
and marks the inner loop's tests for `make test-fast` (the `fast` marker)."""

from pathlib import Path

import pytest

pytest_plugins = ["course.grading.pytest_plugin"]

TESTS = Path(__file__).resolve().parent / "tests"
# The inner loop (`make test-fast`, about a minute): the framework, the hidden suites on the reference, the harness.
FAST = (TESTS / "framework", TESTS / "hidden", TESTS / "grader" / "test_harness.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in FAST):
            item.add_marker(pytest.mark.fast)
