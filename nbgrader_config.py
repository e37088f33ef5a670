"""nbgrader configuration for the TinyGPT course, usable as shipped.

The course directory is this folder. The gradebook is `gradebook.db` here unless the environment
variable NBGRADER_DB_URL names another database (postgresql://USER:PASSWORD@HOST:PORT/DATABASE needs
the `postgres` extra). `nbgrader autograde` and Formgrader's Autograde button grade with the sandboxed
harness (course.grading.nbgrader_hooks): nbgrader starts no kernel and runs no student code.
"""

import atexit
import os
import sys
from pathlib import Path

from course.grading.database import URL_VARIABLE, check_gradebook
from course.grading.report import GradingError

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

HERE = Path(__file__).resolve().parent

# nbgrader runs `alembic` from PATH: make it the one beside this Python (a venv used without activation).
if str(Path(sys.executable).parent) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

# `nbgrader generate_assignment --force` deletes release/ before it builds: if it then fails, the committed
# notebook is put back when nbgrader exits (a successful build has written the new one by then).
RELEASE = HERE / "release" / "tinygpt" / "tinygpt.ipynb"
if RELEASE.is_file():
    _committed = RELEASE.read_bytes()
    atexit.register(lambda: RELEASE.is_file() or (RELEASE.parent.mkdir(parents=True, exist_ok=True),
                                                  RELEASE.write_bytes(_committed)))

c.CourseDirectory.course_id = "tinygpt"
c.CourseDirectory.root = str(HERE)
if os.environ.get(URL_VARIABLE):  # else nbgrader's default, <root>/gradebook.db
    try:  # before nbgrader deletes or writes anything: a missing driver or a dead server ends here, in one line
        check_gradebook(os.environ[URL_VARIABLE])
    except GradingError as error:
        sys.exit(f"nbgrader_config.py: {error}")
    c.CourseDirectory.db_url = os.environ[URL_VARIABLE]

# The student stub nbgrader puts where a solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Validate (the students' button and `nbgrader validate`) runs the notebook in a kernel on the
# student's own machine; the visible checks are grade cells worth 0 points, so a failing one fails it.
c.Execute.kernel_name = "python3"
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

# Autograde: the submission's nbgrader cells become the release's, then the harness fills the grade cells.
c.Autograde.sanitize_preprocessors = [
    "course.grading.nbgrader_hooks.MatchRelease",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "course.grading.nbgrader_hooks.HarnessScores",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
