"""nbgrader configuration for the TinyGPT course, usable as shipped.

The course directory is this folder. The gradebook is `gradebook.db` here unless the environment
variable NBGRADER_DB_URL names another database (postgresql://USER:PASSWORD@HOST:PORT/DATABASE needs
the `postgres` extra). `nbgrader autograde` and Formgrader's Autograde button grade with the sandboxed
harness (course.grading.nbgrader_hooks): nbgrader starts no kernel and runs no student code. Other
assignments of this folder are graded by nbgrader as usual.

Fail closed: if the course package cannot be imported here or its table (course/components.py) is
inconsistent, every nbgrader command and Formgrader stop with one line instead of grading with nbgrader's
defaults. If this file itself fails (traitlets then only logs the error and goes on with the defaults), the
hidden grade cells raise under nbgrader's own Execute, so nothing scores a point (nbgrader_hooks.HIDDEN_GUARD).
"""

import atexit
import os
import sys
from pathlib import Path

from nbgrader.converters import GenerateAssignment

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

HERE = Path(__file__).resolve().parent

try:  # importing the hooks imports course/components.py, which checks its table
    from course.grading import exchange, nbgrader_hooks  # noqa: F401 (named below as strings)
    from course.grading.database import URL_VARIABLE, check_gradebook
    from course.grading.report import GradingError
except Exception as error:  # noqa: BLE001 (whatever it is, there is no harness to grade with)
    sys.exit(f"nbgrader_config.py: the course's grader cannot be loaded ({type(error).__name__}: {error}); "
             "nbgrader stops instead of grading without it: install the course (pip install -e <course folder>) "
             "in the environment that runs nbgrader, or fix course/components.py")

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
    "course.grading.nbgrader_hooks.HarnessScores",  # nbgrader's Execute for assignments the harness does not grade
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# generate_assignment also exports solutions/ from the notebook it releases (never stale after nbgrader's own build).
_NBGRADER_STEPS = GenerateAssignment.class_traits()["preprocessors"].default()
c.GenerateAssignment.preprocessors = ["course.grading.nbgrader_hooks.ExportSolutions", *_NBGRADER_STEPS]

# The exchange: a notebook saved under another name is graded as tinygpt.ipynb and gets its feedback back.
c.ExchangeFactory.collect = "course.grading.exchange.CollectSubmissions"
c.ExchangeFactory.release_feedback = "course.grading.exchange.ReleaseFeedback"
