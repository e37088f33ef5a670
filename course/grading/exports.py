"""The grades as nbgrader's gradebook holds them, and every table derived from it.

The gradebook is the one source of truth: the harness's points as autograde recorded them, a grader's
overrides and comments made in Formgrader (`Grade.manual_score`, `Grade.extra_credit`,
`Comment.manual_comment`), nbgrader's late penalty, and the roster (`nbgrader db student import`: names,
e-mail, `lms_user_id`). `final_grades` reads it; `write_exports` writes `grades.csv`, `grades.json`,
`canvas.csv` (Canvas's gradebook import) and `moodle.csv` (Moodle's grade import); `annotated_markdown`
adds what the gradebook changed to a student's feedback. A student nbgrader could not record (no
readable notebook) keeps the harness's zero and its reason.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from course.components import BY_ID, COMPONENTS
from course.grading.nbgrader_hooks import HIDDEN_PREFIX
from course.grading.report import SubmissionReport


@dataclass
class GraderChange:
    """A grader's override of one grade cell in Formgrader."""
    cell: str
    autograder: float | None  # what autograde recorded
    grader: float  # the score now (the grader's, with any extra credit)


@dataclass
class FinalGrade:
    """One student's grade for the assignment as the gradebook holds it (points; total = score - penalty)."""
    student: str
    max_total: float
    components: dict[str, float] = field(default_factory=dict)  # component id -> points (a grader's if changed)
    autograder_total: float = 0.0  # the harness's total, as the student's report says
    score: float = 0.0  # every grade cell, with the grader's changes, before the late penalty
    late_penalty: float = 0.0
    seconds_late: float = 0.0
    total: float = 0.0
    changes: list[GraderChange] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)  # cell -> the grader's comment
    lms_user_id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    recorded: bool = True  # False: not in the gradebook (its notebook could not be read); the harness's zero
    reason: str | None = None

    @property
    def adjusted(self) -> bool:
        """Does the gradebook say anything the harness's report does not?"""
        return bool(self.changes or self.comments or self.late_penalty)


def _roster(gradebook: Gradebook, grade: FinalGrade) -> None:
    try:
        student = gradebook.find_student(grade.student)
    except MissingEntry:
        return
    grade.lms_user_id, grade.email = student.lms_user_id or "", student.email or ""
    grade.first_name, grade.last_name = student.first_name or "", student.last_name or ""


def _final_grade(gradebook: Gradebook, assignment: str, report: SubmissionReport) -> FinalGrade:
    grade = FinalGrade(report.student, report.max_total, autograder_total=report.total, reason=report.reason)
    _roster(gradebook, grade)
    try:
        submission = gradebook.find_submission(assignment, report.student)
    except MissingEntry:  # never recorded: what the harness said
        grade.recorded = False
        grade.components = {c.id: report.points(c.id) for c in COMPONENTS}
        grade.score = grade.total = report.total
        return grade
    for notebook in submission.notebooks:
        for cell in notebook.grades:
            if cell.name.startswith(HIDDEN_PREFIX):
                grade.components[cell.name.removeprefix(HIDDEN_PREFIX)] = cell.score
            if cell.manual_score is not None or cell.extra_credit:
                grade.changes.append(GraderChange(cell.name, cell.auto_score, cell.score))
        grade.comments.update({c.name: c.manual_comment for c in notebook.comments if c.manual_comment})
    grade.score, grade.max_total = submission.score, submission.max_score
    grade.late_penalty = submission.late_submission_penalty or 0.0
    grade.seconds_late = submission.total_seconds_late
    grade.total = max(0.0, grade.score - grade.late_penalty)  # as nbgrader's own CSV export computes it
    return grade


def final_grades(db_url: str, course_id: str, assignment: str, reports: list[SubmissionReport]) -> list[FinalGrade]:
    """Each report's student as the gradebook at `db_url` holds them, in the order of `reports`."""
    with Gradebook(db_url, course_id) as gradebook:
        return [_final_grade(gradebook, assignment, report) for report in reports]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *rows])


def changes_line(grade: FinalGrade) -> str:
    """'hidden_causal_mask 0 -> 4; late penalty 12' (empty when nothing changed)."""
    parts = [f"{c.cell} {'-' if c.autograder is None else f'{c.autograder:g}'} -> {c.grader:g}" for c in grade.changes]
    parts += [f"late penalty {grade.late_penalty:g}"] if grade.late_penalty else []
    return "; ".join(parts)


def write_exports(grades: list[FinalGrade], folder: Path, assignment: str) -> None:
    """`grades.csv`, `grades.json`, `canvas.csv` and `moodle.csv` in `folder`, one row per student."""
    ids = [c.id for c in COMPONENTS]
    _write_csv(folder / "grades.csv",
               ["student", "lms_user_id", "email", *ids, "score", "late_penalty", "total", "reason", "grader_changes"],
               [[g.student, g.lms_user_id, g.email, *(f"{g.components.get(id, 0.0):g}" for id in ids), f"{g.score:g}",
                 f"{g.late_penalty:g}", f"{g.total:g}", g.reason or "", changes_line(g)] for g in grades])
    table = {g.student: {**{k: v for k, v in asdict(g).items() if k != "student"},
                         "components": {id: g.components.get(id, 0.0) for id in ids}} for g in grades}
    (folder / "grades.json").write_text(json.dumps(table, indent=1))
    # Canvas's gradebook import: it matches a row by ID (Canvas's user id, the roster's lms_user_id) or by
    # SIS Login ID (here the nbgrader student id); "Points Possible" is the row Canvas's own export has.
    points = ["Points Possible", "", "", "", "", f"{grades[0].max_total:g}" if grades else ""]
    _write_csv(folder / "canvas.csv", ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment],
               [points, *([f"{g.last_name}, {g.first_name}".strip(", "), g.lms_user_id, "", g.student, "",
                           f"{g.total:g}"] for g in grades)])
    # Moodle's grade import: map Username, Email address or ID number to the user, the grade column to the item.
    _write_csv(folder / "moodle.csv", ["Username", "Email address", "ID number", assignment],
               [[g.student, g.email, g.lms_user_id, f"{g.total:g}"] for g in grades])


def annotated_markdown(report: SubmissionReport, grade: FinalGrade) -> str:
    """The student's feedback (`report.to_markdown()`) with what the gradebook changed, after its title."""
    markdown = report.to_markdown()
    if not grade.adjusted:
        return markdown
    lines = [f"**Grade: {grade.total:g} / {grade.max_total:g}**: the autograder's total below "
             f"({grade.autograder_total:g}), changed in the gradebook:", ""]
    for change in grade.changes:
        component = BY_ID.get(change.cell.removeprefix(HIDDEN_PREFIX))
        name = component.title if component else change.cell
        before = "no score" if change.autograder is None else f"{change.autograder:g}"
        lines.append(f"- {name}: a grader changed the points from {before} to {change.grader:g}")
    lines += [f"- Comment on `{cell}`: {text}" for cell, text in grade.comments.items()]
    if grade.late_penalty:
        lines.append(f"- Late by {grade.seconds_late / 3600:.1f} hours: penalty {grade.late_penalty:g} points "
                     f"(score {grade.score:g} before the penalty)")
    title, _, rest = markdown.partition("\n\n")
    return "\n\n".join([title, "\n".join(lines), rest])
