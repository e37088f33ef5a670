"""nbgrader preprocessors: the harness's scores as grade-cell outputs, and stderr that does not zero a cell.

nbgrader scores a grade cell from its outputs (nbgrader.utils.determine_grade): an error or any
stderr output gives 0, an execute_result that reads as a number gives that many points (0
included), and anything else, even no output at all, gives FULL points. So every hidden grade cell
must end up with an execute_result or an error, never with nothing.
"""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Unicode

from course.grading.report import SubmissionReport

HIDDEN_PREFIX = "hidden_"


def _not_graded(reason: str) -> dict:
    return new_output("error", ename="NotGraded", evalue=reason, traceback=[f"NotGraded: {reason}"])


class FillHarnessScores(NbGraderPreprocessor):
    """Takes the place of nbgrader's Execute in `nbgrader autograde`: runs no code at all.

    Each `hidden_<component>` grade cell gets the harness's feedback on stdout and its points as an
    execute_result, read from `<reports>/<student>.json` (written by `course.grading.batch.grade_course`).
    Other code cells lose their outputs. A grade cell the harness has no score for gets an error
    (0 points) rather than nbgrader's full credit for a cell without output.
    """

    reports = Unicode("", help="folder with the harness's <student>.json reports").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        path = Path(self.reports) / f"{student}.json"
        report = SubmissionReport.from_json(path.read_text()) if path.is_file() else None
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs, cell.execution_count = [], None
            if is_grade(cell) and not is_solution(cell):
                cell.outputs = self.grade_outputs(cell.metadata.nbgrader.get("grade_id", ""), report, path)
        return nb, resources

    @staticmethod
    def grade_outputs(grade_id: str, report: SubmissionReport | None, path: Path) -> list[dict]:
        if report is None:
            return [_not_graded(f"no harness report {path}; run the harness (course grade) first")]
        component = grade_id.removeprefix(HIDDEN_PREFIX)
        result = next((c for c in report.components if c.id == component), None)
        if not grade_id.startswith(HIDDEN_PREFIX) or result is None:
            return [_not_graded(f"the harness report for {report.student} has no score for {grade_id!r}")]
        return [new_output("stream", name="stdout", text=result.feedback()),
                new_output("execute_result", data={"text/plain": f"{result.points:g}"}, execution_count=1)]


class StderrToStdout(NbGraderPreprocessor):
    """Moves grade cells' stderr streams to stdout, each line prefixed "[stderr] ", so that a warning
    does not zero a correct answer; real errors (error outputs) stay errors."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
                    output.text = "".join(f"[stderr] {line}" for line in output.text.splitlines(keepends=True))
        return cell, resources
