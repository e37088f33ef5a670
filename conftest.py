"""Loads the grading plugin (`--submission`, `--grading-record`, the `weight` marker) for every test run."""

pytest_plugins = ["course.grading.pytest_plugin"]
