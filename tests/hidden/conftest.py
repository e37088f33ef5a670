"""Fixtures of the hidden suites.

Each `test_<component id>.py` module defines `REQUEST` (plain data: seeds, arrays, sizes, weights).
`student` runs `course/grading/probes/<component id>.py` on the submission in the sandbox, once per module,
and hands back what the student's code computed; `reference` runs the same probe cases on the
reference solution, in this process. Every comparison happens here, never next to student code.

Run `pytest tests/hidden` (grades the source notebook, which must pass everything) or
`pytest tests/hidden --submission PATH`; `course.grading.harness.grade_notebook` turns the outcomes into points.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from course.components import BY_ID
from course.grading.sandbox import ProbeRun, run_probe

REPO = Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOK = REPO / "source" / "tinygpt" / "tinygpt.ipynb"


def component_of(module: ModuleType) -> str:
    """`tests/hidden/test_layer_norm.py` grades the component `layer_norm`."""
    return Path(module.__file__).stem.removeprefix("test_")


class StudentResults:
    """What one sandboxed probe run brought back. Reading a case that failed fails the test, saying why."""

    def __init__(self, run: ProbeRun, title: str):
        self.run = run
        self.title = title

    def __getitem__(self, case: str) -> Any:
        run = self.run
        if case in run.values:
            return run.values[case]
        if case in run.errors:
            error = run.errors[case]
            message = f"{self.title}: while checking `{case}`, your code raised {error}"
            if error.startswith("NameError: your notebook does not define"):
                message = f"{self.title}: {error.removeprefix('NameError: ')}"
                if run.problems:
                    message += " (problems loading your notebook: " + "; ".join(run.problems) + ")"
            pytest.fail(message, pytrace=False)
        pytest.fail(f"{self.title}: `{case}` did not run: {run.reason or 'no result came back'}", pytrace=False)


class ReferenceResults:
    """The same probe cases run on the reference solution (trusted, in this process), computed on demand."""

    def __init__(self, component: str, request: dict[str, Any]):
        self.cases = importlib.import_module(f"course.grading.probes.{component}").CASES
        self.namespace = vars(importlib.import_module("solutions.tinygpt"))
        self.request = request
        self.cache: dict[str, Any] = {}

    def __getitem__(self, case: str) -> Any:
        if case not in self.cache:
            self.cache[case] = self.cases[case](self.namespace, copy.deepcopy(self.request))
        return self.cache[case]


def submission(config: pytest.Config) -> Path:
    """The notebook under test: `--submission PATH` (the harness's option), else the source notebook."""
    return Path(config.getoption("--submission", default=None) or SOURCE_NOTEBOOK)


@pytest.fixture(scope="module")
def student(request: pytest.FixtureRequest) -> StudentResults:
    component = component_of(request.module)
    run = run_probe(submission(request.config), component, request.module.REQUEST)
    return StudentResults(run, BY_ID[component].title)


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> ReferenceResults:
    return ReferenceResults(component_of(request.module), request.module.REQUEST)
