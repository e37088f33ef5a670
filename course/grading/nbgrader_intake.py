"""`nbgrader autograde` (the CLI and Formgrader's button) takes submissions in through `course.grading.intake`.

Left to itself, nbgrader reads and copies a submission before any preprocessor sees it: `init_assignment`
reads `timestamp.txt` and copies every other file of the folder with `shutil.copy`, which follows symbolic
links (a link to the reference solution lands in autograded/ and feedback/, one to /dev/zero fills the disk)
and blocks on a FIFO; then `nbformat.read` raises on JSON such as a cell id that is a list. The exporter is the
one object nbgrader lets a configuration choose (`c.Autograde.exporter_class`, set in nbgrader_config.py) that
it builds after listing the submission folders and before touching any of them. So `IntakeExporter`, for the
harness's assignment (`nbgrader_hooks.graded_by_harness`):

- when nbgrader builds it, checks every listed folder (`check_student_id`, `check_folder`: it reads no file).
  A refused folder is dropped from the run with one logged line, `<student>: not graded: <reason>`: nbgrader
  never reads or copies anything of it and records nothing for it (`course grade` does the same and gives it
  zero in its reports); the others are graded. When every listed folder is refused, autograde fails with
  those lines (Formgrader's button shows them);
- reads each notebook with `take_in`. A notebook it refuses is replaced by the release notebook with a note
  giving the reason; the harness, which takes the submitted file in the same way, gives it zero with that
  reason in every hidden cell's feedback.

Other assignments are read by nbgrader as usual.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat.v4 import new_markdown_cell
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException

from course.grading.intake import check_folder, check_student_id, take_in
from course.grading.nbgrader_hooks import graded_by_harness, release_notebook
from course.grading.report import markdown_text, one_line


class IntakeExporter(NotebookExporter):
    """Autograde's exporter: refuses hostile submission folders before nbgrader touches them and reads each
    notebook of the harness's assignment with `intake.take_in` (see the module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if isinstance(self.parent, Autograde):
            self._drop_refused_folders(self.parent)

    def _drop_refused_folders(self, converter: Autograde) -> None:
        coursedir = converter.coursedir
        pattern = coursedir.format_path(coursedir.submitted_directory, "(?P<student>.*)", "(?P<assignment>.*)",
                                        escape=True)
        refused = {}
        for folder in converter.assignments:
            found = re.fullmatch(pattern, folder, re.DOTALL)  # a line break in a folder name is refused below
            if found and graded_by_harness(found["assignment"]):
                reason = check_student_id(found["student"]) or check_folder(Path(folder))
                if reason:
                    refused[folder] = f"{one_line(found['student'], 120)}: not graded: {reason}"
                    self.log.error("%s", refused[folder])
        if refused and len(refused) == len(converter.assignments):
            raise NbGraderException(" | ".join(refused.values()))
        converter.assignments = {folder: notebooks for folder, notebooks in converter.assignments.items()
                                 if folder not in refused}

    def from_filename(self, filename: str, resources: dict | None = None, **kwargs):
        nbgrader = (resources or {}).get("nbgrader", {})
        if not graded_by_harness(nbgrader.get("assignment", "")):
            return super().from_filename(filename, resources, **kwargs)
        intake = take_in(Path(filename))
        if intake.reason is None:  # validated: now nbformat may read it (it joins the lines of sources)
            notebook = nbformat.reads(json.dumps(intake.notebook), as_version=4)
        else:
            self.log.error("%s: zero: %s", nbgrader["student"], intake.reason)
            notebook = release_notebook(self.parent.coursedir, resources)
            notebook.cells.insert(0, new_markdown_cell(
                f"**Grader's note:** your notebook could not be graded: {markdown_text(intake.reason)}. "
                "Below is the release notebook, not yours."))
        return self.from_notebook_node(notebook, resources, **kwargs)
