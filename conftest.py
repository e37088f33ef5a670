"""Loads the grading plugin (`--submission`, `--grading-record`, the `weight` marker) for every test run,
and sorts the tests for `make test` (pytest-xdist) and `make test-fast` (the `fast` marker)."""

from pathlib import Path

import pytest

pytest_plugins = ["course.grading.pytest_plugin"]

TESTS = Path(__file__).resolve().parent / "tests"
# The inner loop (`make test-fast`, about a minute): the framework, the hidden suites on the reference, the harness.
FAST = (TESTS / "framework", TESTS / "hidden", TESTS / "grader" / "test_harness.py")
# Files whose tests share nothing costly, so xdist may spread them over the workers; every other file's tests
# stay together on one worker, which then sets up its module fixtures (a graded batch, a server) once.
SPREAD = tuple(TESTS / "install" / name for name in
               ("test_student_install.py", "test_handout_platforms.py", "test_fresh_clone.py"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    spreading = config.pluginmanager.hasplugin("xdist")
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in FAST):
            item.add_marker(pytest.mark.fast)
        if spreading and item.path not in SPREAD:
            item.add_marker(pytest.mark.xdist_group(str(item.path.relative_to(TESTS.parent))))
