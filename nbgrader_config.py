"""nbgrader configuration for the TinyGPT course, usable as shipped.

The course directory is this folder. The gradebook is `gradebook.db` here unless the environment
variable NBGRADER_DB_URL names another database (e.g. postgresql://user@host/course).
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

HERE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "tinygpt"
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", f"sqlite:///{HERE / 'gradebook.db'}")

# The student stub nbgrader puts where a solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Kernel and per-cell time limit: the slowest graded cell trains a small TinyGPT for a few seconds
# inside the sandbox; the notebook's own training cell is short by default and skipped when grading.
c.Execute.kernel_name = "python3"
c.ExecutePreprocessor.kernel_name = "python3"
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# A warning printed on stderr by a graded cell must not zero a correct answer: nbgrader scores any
# stderr output as a failure, so stderr from grade cells is moved to stdout before scoring.
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "course.grading.nbgrader_hooks.StderrToStdout",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
