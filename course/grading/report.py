"""What grading produces, as plain data: per-test outcomes, per-component points, a submission's report.

The harness (`course.grading.harness`) computes these; the gradebook, nbgrader hooks, the CLI and the
grade tables only read them. JSON round-trips exactly (`to_json` / `from_json`).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course.components import COMPONENTS, TOTAL_POINTS

GRADE_TABLE = "grades"  # reports/<assignment>/grades.csv and grades.json
PREVIOUS = "previous"  # reports/<assignment>/previous/: the reports a regrade replaced
# Names in reports/<assignment>/ that are the grader's own, never a student's (nbgrader_grades.csv: gradebook.py).
OUTPUT_NAMES = (GRADE_TABLE, "nbgrader_grades", PREVIOUS)
MESSAGE_CHARS = 1000  # of any one text from a submission in a report: a message, a reason, a problem
PROBLEMS_LISTED = 50  # loader problems listed in a report; the rest are counted
# Line breaks, other control characters and the Unicode controls that reorder or hide text (bidi, zero width).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# What Markdown or HTML may read as markup in the middle of a line (line starts never come from a submission).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~&$])")


def one_line(text: object, limit: int = MESSAGE_CHARS) -> str:
    """`text` as one line of at most about `limit` characters: line breaks shown as " ↵ ", control and
    bidi characters dropped, the rest cut with a count. For any text that came from a submission."""
    text = str(text)
    cut = len(text) - limit
    text = _UNSAFE.sub("", _BREAKS.sub(" ↵ ", text[:limit]))
    return text + (f"... ({cut} more characters)" if cut > 0 else "")


def markdown_text(text: object) -> str:
    """`text` (from a submission) as one line of Markdown that renders as exactly that text: no heading,
    emphasis, link, table cell, HTML tag or script can come out of it."""
    return _MARKDOWN.sub(r"\\\1", one_line(text))


def listed_problems(problems: list[str]) -> list[str]:
    """At most PROBLEMS_LISTED problems, each one line; the rest counted."""
    shown = [one_line(problem) for problem in problems[:PROBLEMS_LISTED]]
    more = len(problems) - PROBLEMS_LISTED
    return shown + ([f"... and {more} more"] if more > 0 else [])


class GradingError(ValueError):
    """Input the grader cannot work with; the message says what was wrong and what was expected."""


@dataclass
class TestOutcome:
    test: str
    weight: float
    passed: bool
    message: str  # for the student: what was expected and what came back (empty when passed)


@dataclass
class ComponentResult:
    id: str
    title: str
    points: float
    max_points: int
    tests: list[TestOutcome] = field(default_factory=list)
    reason: str | None = None  # why the student's code could not be checked (timeout, crash, ...)

    def feedback(self) -> str:
        """Plain-text lines for a notebook cell's output: the points, then each check."""
        lines = [f"{self.title}: {self.points:g} / {self.max_points} points"]
        lines += [f"Could not check your code: {one_line(self.reason)}"] if self.reason else []
        lines += [f"  ok      {t.test}" if t.passed else f"  FAILED  {t.test}: {one_line(t.message)}"
                  for t in self.tests]
        return "\n".join(lines) + "\n"


@dataclass
class SubmissionReport:
    student: str
    notebook: str
    total: float = 0.0
    max_total: int = TOTAL_POINTS
    components: list[ComponentResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cells that did not load (syntax errors, ...)
    protections: list[str] = field(default_factory=list)  # sandbox measures active while grading
    seconds: float = 0.0
    reason: str | None = None  # why nothing could be graded (e.g. the notebook is not valid JSON)
    sha256: str = ""  # of the graded notebook file
    graded_at: str = ""

    def points(self, component: str) -> float:
        return next((c.points for c in self.components if c.id == component), 0.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> SubmissionReport:
        data = json.loads(text)
        data["components"] = [ComponentResult(**{**c, "tests": [TestOutcome(**t) for t in c["tests"]]})
                              for c in data["components"]]
        return cls(**data)

    def to_markdown(self) -> str:
        """Feedback a student can act on: points per component, and what each failing check saw. Every text
        that came from the submission is escaped (`markdown_text`)."""
        lines = [f"# TinyGPT feedback for {markdown_text(self.student)}", "",
                 f"**Total: {self.total:g} / {self.max_total}**", ""]
        if self.reason:
            lines += [f"Your notebook could not be graded: {markdown_text(self.reason)}", ""]
        if self.problems:
            lines += ["Parts of your notebook did not load:",
                      *(f"- {markdown_text(problem)}" for problem in listed_problems(self.problems)), ""]
        if self.components:
            lines += ["| component | points |", "|---|---|"]
            lines += [f"| {c.title} | {c.points:g} / {c.max_points} |" for c in self.components]
        for c in self.components:
            failing = [t for t in c.tests if not t.passed]
            if (failing or c.reason) and not (self.reason and c.reason == self.reason):  # said once, above
                lines += ["", f"## {c.title} ({c.points:g} / {c.max_points})"]
                lines += [f"Could not check your code: {markdown_text(c.reason)}"] if c.reason else []
                lines += [f"- `{t.test}`: {markdown_text(t.message)}" for t in failing]  # test names: the suites'
        return "\n".join(lines) + "\n"


def write_grade_tables(reports: list[SubmissionReport], folder: Path) -> None:
    """`grades.csv` (one row per student, one column per component, total) and `grades.json`."""
    ids = [c.id for c in COMPONENTS]
    with open(folder / f"{GRADE_TABLE}.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student", *ids, "total", "reason"])
        for r in reports:
            writer.writerow([r.student, *(f"{r.points(id):g}" for id in ids), f"{r.total:g}", r.reason or ""])
    table = {r.student: {"total": r.total, "components": {id: r.points(id) for id in ids}, "reason": r.reason}
             for r in reports}
    (folder / f"{GRADE_TABLE}.json").write_text(json.dumps(table, indent=1))


def format_table(reports: list[SubmissionReport]) -> str:
    """A score table: one row per student, one column per component, and the total."""
    ids = [c.id for c in COMPONENTS]
    name_width = max([len("student"), *(len(r.student) for r in reports)])
    header = ["student".ljust(name_width), *ids, "total"]
    rows = [[r.student.ljust(name_width), *(f"{r.points(id):g}".rjust(len(id)) for id in ids),
             f"{r.total:g}".rjust(5)] for r in reports]
    return "\n".join("  ".join(row) for row in [header, *rows])
