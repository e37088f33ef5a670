"""nbgrader's exchange (release, fetch, submit, collect, feedback) for a notebook a student saved under another name.

nbgrader grades and gives feedback per notebook name: a `TinyGPT (1).ipynb` in the student's submission is
"an unknown notebook" to `nbgrader autograde`, and `nbgrader fetch_feedback` looks for the feedback of that
name. nbgrader_config.py puts these two steps in place of the default ones (`c.ExchangeFactory`):

- `CollectSubmissions`: after nbgrader's collect, a submission of a harness-graded assignment with one
  notebook under another name also gets a copy of it as `tinygpt.ipynb`, which nbgrader grades.
- `ReleaseFeedback`: before nbgrader's release_feedback, the feedback `tinygpt.html` is also given the
  submitted notebook's own name, so that the student's `fetch_feedback` finds it.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

from course.components import NOTEBOOK
from course.grading.nbgrader_hooks import graded_by_harness


def other_notebooks(folder: Path) -> list[Path]:
    """The notebooks of a submission folder other than `tinygpt.ipynb` (nbgrader's checkpoints aside)."""
    return sorted(p for p in folder.glob("*.ipynb") if p.name != NOTEBOOK)


class CollectSubmissions(ExchangeCollect):
    """nbgrader's collect, then a lone notebook under another name is copied to `tinygpt.ipynb` (kept as well)."""

    def copy_files(self):
        super().copy_files()
        if not graded_by_harness(self.coursedir.assignment_id):
            return
        for record in self.src_records:
            folder = Path(self.coursedir.format_path(self.coursedir.submitted_directory, record["username"],
                                                     self.coursedir.assignment_id))
            renamed = other_notebooks(folder)
            if not (folder / NOTEBOOK).exists() and len(renamed) == 1:
                self.log.warning("%s submitted %s: graded as %s", record["username"], renamed[0].name, NOTEBOOK)
                shutil.copyfile(renamed[0], folder / NOTEBOOK)


class ReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, with the feedback also under the name of the notebook the student submitted."""

    def copy_files(self):
        if graded_by_harness(self.coursedir.assignment_id):
            for html in glob.glob(os.path.join(self.src_path, Path(NOTEBOOK).with_suffix(".html").name)):
                feedback = Path(html)  # src_path: feedback/<student or *>/<assignment>
                student = feedback.parent.parent.name
                submitted = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                                            self.coursedir.assignment_id))
                for notebook in other_notebooks(submitted):
                    shutil.copyfile(feedback, feedback.with_name(notebook.with_suffix(".html").name))
        super().copy_files()
