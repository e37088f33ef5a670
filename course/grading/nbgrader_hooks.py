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
gives FULL points. So every hidden grade cell gets an execute_result or an error, never nothing; and its
source (`HIDDEN_GUARD`, the one thing that travels with the notebook whatever configuration nbgrader
loaded) raises when nbgrader's own Execute runs it in autograde, so that nbgrader grading without the
harness (its defaults after a broken nbgrader_config.py) records 0, not full points.

Only the assignments the harness grades (`graded_by_harness`: course/components.py's ASSIGNMENT) take this
path; any other assignment of the course folder goes through nbgrader's own pipeline untouched (its
Execute runs its tests in a kernel).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade
from traitlets import Unicode

from course.components import ASSIGNMENT
from course.grading.report import GradingError, SubmissionReport
from course.grading.structure import match_release, problems_cell

HIDDEN_PREFIX = "hidden_"

# The last lines of every hidden grade cell (tests/grader/test_fail_closed.py checks the source notebook):
# nbgrader sets NBGRADER_EXECUTION=autograde only around its own Execute step, which the harness replaces;
# Validate ("validate"), check.py and the student's kernel (unset) run the cell as a comment.
HIDDEN_GUARD = (
    """if __import__("os").environ.get("NBGRADER_EXECUTION") == "autograde":  # the course's grader fills this cell\n"""
    """    raise RuntimeError("not graded: nbgrader ran this cell itself instead of the course's sandboxed grader")""")


def graded_by_harness(assignment: str) -> bool:
    """Whether the sandboxed harness grades `assignment` (else nbgrader's own pipeline does)."""
    return assignment == ASSIGNMENT


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


def release_notebook(coursedir, resources: dict) -> nbformat.NotebookNode:
    """The release's version of the notebook being autograded (`release/<assignment>/<notebook>.ipynb`)."""
    assignment, name = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
    release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment)) / f"{name}.ipynb"
    if not release.is_file():
        raise GradingError(f"no release notebook {release} to check the submission against; run `course build`")
    return nbformat.read(release, as_version=4)


class MatchRelease(NbGraderPreprocessor):
    """First sanitize step: the submission's nbgrader cells become the release's (`match_release`); what
    changed is listed in a note at the top of the notebook, which nbgrader's feedback shows."""

    def preprocess(self, nb, resources):
        if not graded_by_harness(resources["nbgrader"]["assignment"]):
            return nb, resources
        nb, problems = match_release(nb, release_notebook(_course_directory(self), resources))
        for problem in problems:
            self.log.warning("%s: %s", resources["nbgrader"]["student"], problem)
        if problems:
            nb.cells.insert(0, problems_cell(problems))
        return nb, resources


class HarnessScores(NbGraderPreprocessor):
    """Takes the place of nbgrader's Execute: runs no code; each `hidden_<component>` grade cell gets the
    harness's feedback on stdout and its points as an execute_result. Other code cells lose their outputs.
    An assignment the harness does not grade is handed to nbgrader's Execute (configured as `c.Execute`).

    The scores come from `<reports>/<student>.json` when `reports` is set (course grade), else from
    grading the submitted notebook now, with the course folder hidden from the student's code.
    """

    reports = Unicode("", help="folder of the harness's <student>.json reports (set by course grade)").tag(config=True)
    suites = Unicode("", help="folder of hidden suites (default: the course's tests/hidden)").tag(config=True)

    def preprocess(self, nb, resources):
        if not graded_by_harness(resources["nbgrader"]["assignment"]):
            return Execute(parent=self.parent).preprocess(nb, resources)
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


class ExportSolutions(NbGraderPreprocessor):
    """First step of `nbgrader generate_assignment`: `solutions/<assignment>.py` is exported again from the
    source notebook being released, so the reference the hidden suites compare with is never older than it."""

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        if graded_by_harness(assignment):
            from course.build import export_reference  # course.build imports the gradebook, which imports us

            self.log.info("Exporting solutions/%s.py from source/%s", assignment, assignment)
            export_reference(Path(_course_directory(self).root), assignment)
        return nb, resources
