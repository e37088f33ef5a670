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
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from course.components import BY_ID
from course.grading.sandbox import ProbeRun, run_probe

REPO = Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOK = REPO / "source" / "tinygpt" / "tinygpt.ipynb"


def component_of(module: ModuleType) -> str:
    """`tests/hidden/test_layer_norm.py` grades the component `layer_norm`."""
    return Path(module.__file__).stem.removeprefix("test_")


def not_plain_and_finite(value: Any) -> str | None:
    """What is wrong with a value that came back from the sandbox, or None: only plain data counts (base-class
    NumPy arrays of numbers, bools or strings, Python scalars, lists and str-keyed dicts), and no NaN or inf."""
    if value is None or type(value) in (bool, int, str):
        return None
    if type(value) is float:
        return None if math.isfinite(value) else f"a non-finite number ({value}); values must be finite"
    if type(value) is np.ndarray:
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            return "an array with NaN or infinite entries; values must be finite"
        return None if value.dtype.kind in "biufcU" else f"an array of dtype {value.dtype}"
    if type(value) is list:
        return next((problem for item in value if (problem := not_plain_and_finite(item))), None)
    if type(value) is dict and all(type(key) is str for key in value):
        return next((problem for item in value.values() if (problem := not_plain_and_finite(item))), None)
    return f"a {type(value).__name__}, which is not plain data"


class StudentResults:
    """What one sandboxed probe run brought back. Reading a case that failed fails the test, saying why."""

    def __init__(self, run: ProbeRun, title: str):
        self.run = run
        self.title = title

    def __getitem__(self, case: str) -> Any:
        run = self.run
        if case in run.values:
            problem = not_plain_and_finite(run.values[case])
            if problem:
                pytest.fail(f"{self.title}: while checking `{case}`, your code returned {problem}", pytrace=False)
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
