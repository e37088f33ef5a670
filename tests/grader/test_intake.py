"""The intake (course/grading/intake.py) on the known hostile cases, and the escaping of student text.

No grading here (milliseconds each): the whole batch is tests/grader/test_hostile_submissions.py.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from course.gradescope import results
from course.grading.intake import (
    FOLDER_ENTRIES,
    NOTEBOOK_LIMIT_MB,
    Refused,
    check_folder,
    check_student_id,
    notebook_from_bytes,
    read_file,
    take_in,
)
from course.grading.report import ComponentResult, SubmissionReport, markdown_text, one_line
from course.grading.report import TestOutcome as Outcome  # not a test class
from course.grading.structure import match_release, problems_cell
from course.notebook import RELEASE

INJECTION = "\n# Total: 100 / 100\n<img src=x onerror=alert(1)>"


def release() -> dict:
    return json.loads(RELEASE.read_text())


def solution_cell(notebook: dict) -> dict:
    return next(c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))


def with_change(change) -> bytes:
    notebook = release()
    change(notebook)
    return json.dumps(notebook).encode()


# The red team's crashes (issue 21), each now a one-line reason.
@pytest.mark.parametrize(("change", "reason"), [
    (lambda nb: solution_cell(nb).update(id=["a"]), "its id is a JSON array; expected a string"),
    (lambda nb: nb["cells"].insert(2, "print('hi')"), "cell 3 is a JSON string; expected an object"),
    (lambda nb: solution_cell(nb)["metadata"].update(nbgrader="solution"),
     "its nbgrader metadata is a JSON string; expected an object"),
    (lambda nb: solution_cell(nb).update(source=[1, "x"]), "its source is not text"),
    (lambda nb: solution_cell(nb)["metadata"]["nbgrader"].update(points=True), "its nbgrader points is True"),
    (lambda nb: solution_cell(nb)["metadata"]["nbgrader"].update(grade_id=7), "its nbgrader grade_id is 7"),
    (lambda nb: nb.update(nbformat=3), "expected a Jupyter notebook of format 4"),
    (lambda nb: nb.update(metadata=[]), "the notebook's metadata is missing or not an object"),
])
def test_the_red_teams_notebooks_are_refused_with_one_line_each(change, reason):
    intake = notebook_from_bytes(with_change(change))
    assert intake.notebook is None and reason in intake.reason and "\n" not in intake.reason
    data = json.loads(with_change(change))
    recorded, problems = match_release(nbformat.from_dict(data), nbformat.from_dict(release()))
    assert recorded == nbformat.from_dict(release()) and "could not be graded" in problems[0]  # nbgrader's record


def test_a_cell_off_jupyters_schema_is_refused_with_its_number():
    intake = notebook_from_bytes(with_change(lambda nb: solution_cell(nb).update(outputs={})))
    assert intake.reason == ("the notebook does not follow Jupyter's format (cell 8 matches no cell type: a field is "
                             "missing, extra or of the wrong type); expected a notebook as Jupyter saves it")


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "not valid notebook JSON"), (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM"),
    (b'{"cells": NaN}', "NaN is not JSON"), (b"\xff", "not UTF-8 text"), (b"[" * 100_000, "not valid notebook JSON"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "raw", "metadata": {}, '
     b'"source": "\\ud800"}]}', "not valid Unicode"),
])
def test_bytes_that_are_no_notebook_are_refused(raw, reason):
    intake = notebook_from_bytes(raw)
    assert intake.notebook is None and reason in intake.reason


def test_what_jupyter_repairs_is_repaired():
    def damage(notebook):
        del notebook["cells"][0]["id"]
        notebook["cells"][2]["id"] = notebook["cells"][1]["id"]
        notebook["metadata"]["extra"] = {"deep": [1, 2, {"x": None}]}
    intake = notebook_from_bytes(with_change(damage))
    ids = [cell.id for cell in intake.notebook.cells]
    assert intake.reason is None and len(set(ids)) == len(ids) and ids[1] == release()["cells"][1]["id"]
    older = notebook_from_bytes(with_change(lambda nb: nb.update(nbformat_minor=4)))
    assert older.reason is None and "id" not in older.notebook.cells[0]


def test_files_that_are_not_regular_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    link = tmp_path / "zero.ipynb"
    link.symlink_to("/dev/zero")
    sparse = tmp_path / "big.ipynb"
    with open(sparse, "wb") as file:
        file.truncate((NOTEBOOK_LIMIT_MB + 1) << 20)
    answers = {}
    reader = threading.Thread(target=lambda: answers.update({p.name: take_in(p).reason for p in (fifo, link, sparse)}))
    reader.start()
    reader.join(10)  # a FIFO opened for reading blocks for ever unless opened O_NONBLOCK
    assert answers == {"fifo.ipynb": "fifo.ipynb is a FIFO; expected a regular notebook file",
                       "zero.ipynb": "zero.ipynb is a symbolic link; expected the notebook file itself",
                       "big.ipynb": f"big.ipynb is 17 MB; at most {NOTEBOOK_LIMIT_MB} MB is accepted"}
    with pytest.raises(Refused, match="a character device"):
        read_file(Path("/dev/null"))


def test_submission_folders_hold_only_folders_and_regular_files(tmp_path):
    folder = tmp_path / "alice" / "tinygpt"
    (folder / "data").mkdir(parents=True)
    (folder / "tinygpt.ipynb").write_text("{}")
    (folder / "data" / "notes.txt").write_text("mine")
    assert check_folder(folder) is None
    (folder / "data" / "solution.py").symlink_to(RELEASE)
    assert check_folder(folder) == "data/solution.py is a symbolic link; a submission may hold only folders and " \
                                   "regular files"
    linked = tmp_path / "mallory"
    linked.symlink_to(tmp_path / "alice")
    assert check_folder(linked / "tinygpt") == "mallory is a symbolic link; expected a folder"
    many = tmp_path / "bob" / "tinygpt"
    many.mkdir(parents=True)
    for index in range(FOLDER_ENTRIES + 1):
        (many / f"{index}.txt").touch()
    assert f"more than {FOLDER_ENTRIES} files" in check_folder(many)


@pytest.mark.parametrize("student", ["grades", "Grades", "previous", "nbgrader_grades", "../alice", "a b", "",
                                     "=HYPERLINK(1)", ".hidden", "x" * 101, "é"])
def test_folder_names_that_cannot_be_student_ids(student):
    assert check_student_id(student)


@pytest.mark.parametrize("student", ["alice", "a.b-c_d@example.org", "s12345", "x+1"])
def test_ordinary_student_ids(student):
    assert check_student_id(student) is None


def test_student_text_is_one_short_line_and_markdown_that_renders_as_text():
    assert one_line("a\r\nb\u2028c\u202ed\x00", 100) == "a ↵ b ↵ cd"
    assert one_line("x" * 5000) == "x" * 1000 + "... (4000 more characters)"
    rendered = markdown2html_mistune(f"- {markdown_text('**Total: 100** [link](http://x) `code` ' + INJECTION)}")
    assert "<strong>" not in rendered and "<a " not in rendered and "<code>" not in rendered
    assert "<img" not in rendered and "<h1" not in rendered and "&lt;img src=x onerror=alert(1)&gt;" in rendered


def test_the_graders_note_quotes_grade_ids_as_text():
    rendered = markdown2html_mistune(problems_cell([f"cell {INJECTION!r} is not in the release"]).source)
    assert "<img" not in rendered and "<h1" not in rendered and "onerror=alert(1)" in rendered


def test_gradescope_shows_the_feedback_as_text_one_line_per_message():
    report = SubmissionReport("s", "s.ipynb", reason=None, problems=[f"cell 1: {INJECTION}"] * 60)
    report.components = [ComponentResult("tokenizer", "CharTokenizer", 0, 8, [Outcome("t", 1, False, INJECTION)])]
    data = results(report)
    assert data["output_format"] == data["test_output_format"] == "text"
    assert "\n#" not in data["output"] and "\n#" not in data["tests"][0]["output"]
    assert data["output"].endswith("... and 10 more")
