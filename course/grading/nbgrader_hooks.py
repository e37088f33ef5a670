"""nbgrader preprocessors that make `nbgrader autograde` (CLI, Formgrader's button, `course grade`) the harness.

nbgrader_config.py puts `MatchRelease` first in Autograde's sanitize step and `HarnessScores` in place
of its Execute step, so nbgrader never starts a kernel and no student code runs in its process:

- `MatchRelease` gives the submission exactly the release's nbgrader cells (`course.grading.structure`), so a
  deleted, duplicated, renamed or re-pointed cell never stops nbgrader or loses a grade.
- `HarnessScores` grades the submitted file with `course.grading.harness.grade_notebook` (the sandboxed
  hidden suites) and writes each component's points into its `hidden_<id>` grade cell. `course grade`
  has already run the harness: it hands the reports in (`HarnessScores.reports`) instead.

nbgrader scores a grade cell from its outputs (nbgrader.utils.determine_grade): an error gives 0, an
execute_result that reads as a number gives that many points, and anything else, even no output at all,
gives FULL points. So every hidden grade cell gets an execute_result or an error, never nothing.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade
from traitlets import Unicode

from course.grading.report import GradingError, SubmissionReport
from course.grading.structure import match_release, problems_cell

HIDDEN_PREFIX = "hidden_"


def _course_directory(preprocessor: NbGraderPreprocessor):
    """nbgrader's CourseDirectory of the converter running `preprocessor` (its exporter's parent)."""
    converter = getattr(getattr(preprocessor, "parent", None), "parent", None)
    coursedir = getattr(converter, "coursedir", None)
    if coursedir is None:
        raise GradingError(f"{type(preprocessor).__name__} runs only inside nbgrader's autograde")
    return coursedir


def _folder(preprocessor: NbGraderPreprocessor, step: str, resources: dict) -> Path:
    """`<root>/<step>/<student>/<assignment>` of the notebook being autograded."""
    coursedir, info = _course_directory(preprocessor), resources["nbgrader"]
    return Path(coursedir.format_path(step, info["student"], info["assignment"]))


class MatchRelease(NbGraderPreprocessor):
    """First sanitize step: the submission's nbgrader cells become the release's (`match_release`); what
    changed is listed in a note at the top of the notebook, which nbgrader's feedback shows."""

    def preprocess(self, nb, resources):
        coursedir = _course_directory(self)
        assignment, name = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
        release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment)) / f"{name}.ipynb"
        if not release.is_file():
            raise GradingError(f"no release notebook {release} to check the submission against; run `course build`")
        nb, problems = match_release(nb, nbformat.read(release, as_version=4))
        for problem in problems:
            self.log.warning("%s: %s", resources["nbgrader"]["student"], problem)
        if problems:
            nb.cells.insert(0, problems_cell(problems))
        return nb, resources


class HarnessScores(NbGraderPreprocessor):
    """Takes the place of nbgrader's Execute: runs no code; each `hidden_<component>` grade cell gets the
    harness's feedback on stdout and its points as an execute_result. Other code cells lose their outputs.

    The scores come from `<reports>/<student>.json` when `reports` is set (course grade), else from
    grading the submitted notebook now, with the course folder hidden from the student's code.
    """

    reports = Unicode("", help="folder of the harness's <student>.json reports (set by course grade)").tag(config=True)
    suites = Unicode("", help="folder of hidden suites (default: the course's tests/hidden)").tag(config=True)

    def preprocess(self, nb, resources):
        report = self.report(resources)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs, cell.execution_count = [], None
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if is_grade(cell) and grade_id.startswith(HIDDEN_PREFIX):
                cell.outputs = grade_outputs(grade_id, report)
        return nb, resources

    def report(self, resources: dict) -> SubmissionReport:
        student, name = resources["nbgrader"]["student"], resources["nbgrader"]["notebook"]
        if self.reports:
            path = Path(self.reports) / f"{student}.json"
            if not path.is_file():
                raise GradingError(f"no harness report {path} for {student}")
            return SubmissionReport.from_json(path.read_text())
        from course.grading.harness import HIDDEN_SUITES, grade_notebook

        coursedir = _course_directory(self)
        notebook = _folder(self, coursedir.submitted_directory, resources) / f"{name}.ipynb"
        self.log.info("Grading %s with the sandboxed harness", notebook)
        return grade_notebook(notebook, student, hide=(Path(coursedir.root).resolve(),),
                              suites=Path(self.suites) if self.suites else HIDDEN_SUITES)


def _not_graded(reason: str) -> dict:
    return new_output("error", ename="NotGraded", evalue=reason, traceback=[f"NotGraded: {reason}"])


def grade_outputs(grade_id: str, report: SubmissionReport) -> list[dict]:
    """The outputs nbgrader reads `grade_id`'s points from: feedback and points, or an error (0 points)."""
    result = next((c for c in report.components if c.id == grade_id.removeprefix(HIDDEN_PREFIX)), None)
    if result is None:
        return [_not_graded(f"the harness report for {report.student} has no score for {grade_id!r}")]
    return [new_output("stream", name="stdout", text=result.feedback()),
            new_output("execute_result", data={"text/plain": f"{result.points:g}"}, execution_count=1)]
