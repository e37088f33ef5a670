"""pytest plugin for the hidden suites: `--submission`, the `weight` marker, and a record of outcomes.

`pytest tests/hidden` grades the source notebook (proving the reference passes);
`pytest tests/hidden --submission PATH --grading-record OUT.json` grades PATH and writes one JSON
object per hidden test: component (from the module name `test_<component>`), test name, weight,
passed, and a message for the student. The message is the failure message only (from
`pytest.fail(msg, pytrace=False)` or an assertion's message): never the test's source and never a
traceback, since students read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course.grading.report import one_line
from course.grading.sandbox_child import describe

REPO = Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOK = REPO / "source" / "tinygpt" / "tinygpt.ipynb"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grading", "grading a notebook with the hidden suites")
    group.addoption("--submission", default=str(SOURCE_NOTEBOOK),
                    help="the notebook to grade (default: the source notebook, which must pass everything)")
    group.addoption("--grading-record", default=None, metavar="PATH",
                    help="write each hidden test's outcome (component, test, weight, passed, message) as JSON")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "weight(n): the test's share of its component's points (default 1)")
    path = config.getoption("--grading-record")
    if path:
        config.pluginmanager.register(OutcomeRecorder(Path(path)), "grading-outcome-recorder")


def weight_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("weight")
    if marker is None:
        return 1.0
    weight = marker.args[0] if marker.args else None
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.weight needs one positive number, got {marker.args}")
    return float(weight)


def student_message(error: BaseException) -> str:
    """What a student may read about a failed check: the message, without test source or traceback."""
    if isinstance(error, pytest.fail.Exception | pytest.skip.Exception):
        return error.msg or "this check failed"
    if isinstance(error, AssertionError):
        # pytest's assertion rewriting appends "\nassert <expression>", which shows test code: cut it.
        message = str(error).split("\nassert ", 1)[0]
        return "this check failed" if not message or message.startswith("assert ") else message
    return f"the check could not be completed: {describe(error)}"


class OutcomeRecorder:
    """Collects one outcome per test (the first failing phase decides) and writes them at the end."""

    def __init__(self, path: Path):
        self.path = path
        self.outcomes: dict[str, dict] = {}
        self.failed: set[str] = set()
        self.collection_errors: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else item.nodeid
        outcome = self.outcomes.setdefault(item.nodeid, {
            "component": module.removeprefix("test_"), "test": item.name, "weight": weight_of(item),
            "passed": False, "message": "this check did not run"})
        if (report.failed or report.skipped) and item.nodeid not in self.failed:
            self.failed.add(item.nodeid)
            outcome["passed"] = False
            message = student_message(call.excinfo.value) if call.excinfo else "this check failed"
            outcome["message"] = one_line(message)  # it may quote what the student's code returned (30 MB strings)
        elif call.when == "call" and report.passed and item.nodeid not in self.failed:
            outcome["passed"], outcome["message"] = True, ""
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(report.nodeid)

    def pytest_sessionfinish(self) -> None:
        record = {"outcomes": list(self.outcomes.values()), "collection_errors": self.collection_errors}
        self.path.write_text(json.dumps(record, indent=1))
