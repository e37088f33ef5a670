"""A miniature hidden suite for the grader's own tests: same shape as tests/hidden, own probes, short limits."""

from pathlib import Path

import pytest

from course.grading.sandbox import ProbeRun, run_probe
from tests.grader.helpers import LIMITS, PROBES


class Results:
    def __init__(self, run: ProbeRun):
        self.run = run

    def __getitem__(self, case: str):
        if case in self.run.values:
            return self.run.values[case]
        if case in self.run.errors:
            pytest.fail(f"your code raised {self.run.errors[case]}", pytrace=False)
        pytest.fail(f"`{case}` did not run: {self.run.reason}", pytrace=False)


@pytest.fixture(scope="module")
def student(request: pytest.FixtureRequest) -> Results:
    component = Path(request.module.__file__).stem.removeprefix("test_")
    notebook = Path(request.config.getoption("--submission"))
    return Results(run_probe(notebook, component, request.module.REQUEST, LIMITS, probes=PROBES))
