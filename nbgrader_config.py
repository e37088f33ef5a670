"""nbgrader configuration for the TinyGPT course, usable as shipped.

The course directory is this folder. The gradebook is `gradebook.db` here unless the environment
variable NBGRADER_DB_URL names another database (postgresql://USER:PASSWORD@HOST:PORT/DATABASE needs
the `postgres` extra). `nbgrader autograde` and Formgrader's Autograde button grade with the sandboxed
harness (course.grading.nbgrader_hooks): nbgrader starts no kernel and runs no student code, and it takes
submissions in as `course grade` does (course.grading.nbgrader_intake: a symbolic link, FIFO or device in a
submission folder is refused before nbgrader copies it, a notebook that is not valid scores zero with the
reason). Other assignments of this folder are graded by nbgrader as usual.

Fail closed: if the course package cannot be imported here, its table (course/components.py) is inconsistent
or the gradebook cannot be opened, every nbgrader command stops with one line instead of grading with nbgrader's
defaults; a JupyterLab server that loads this file (Formgrader) stays up, and its autograde fails with that line
and records nothing (`refuse_to_grade`). If this file itself fails (traitlets then only logs the error and goes
on with the defaults), the hidden grade cells raise under nbgrader's own Execute, so nothing scores a point
(nbgrader_hooks.HIDDEN_GUARD).
"""

import atexit
import os
import sys
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbgrader.converters import GenerateAssignment
from traitlets.config import Application

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

HERE = Path(__file__).resolve().parent


def refuse_to_grade(reason: str) -> None:
    """Fail closed with `reason` (one line). nbgrader's command line exits with it. Any other process that loads
    this file, such as a JupyterLab server with Formgrader, must stay up (an instructor on a hub needs it to fix
    the course): there Autograde gets an exporter that raises `reason` when nbgrader builds it, before it reads
    a submission or records anything, so Formgrader's Autograde button fails with that line."""
    if Application.initialized() and type(Application.instance()).__module__.startswith("nbgrader."):
        sys.exit(reason)

    class RefuseToGrade(NotebookExporter):
        def __init__(self, **kwargs):
            raise RuntimeError(reason)

    c.Autograde.exporter_class = RefuseToGrade


try:  # importing the hooks imports course/components.py, which checks its table
    from course.grading import exchange, nbgrader_hooks, nbgrader_intake  # noqa: F401 (named below as strings)
    from course.grading.database import URL_VARIABLE, check_gradebook
    from course.grading.report import GradingError
    HARNESS_PROBLEM = None
except Exception as error:  # noqa: BLE001 (whatever it is, there is no harness to grade with)
    HARNESS_PROBLEM = (f"nbgrader_config.py: the course's grader cannot be loaded ({type(error).__name__}: "
                       f"{error}); nbgrader stops instead of grading without it: install the course (pip install "
                       "-e <course folder>) in the environment that runs nbgrader, or fix course/components.py")

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

# The student stub nbgrader puts where a solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Validate (the students' button and `nbgrader validate`) runs the notebook in a kernel on the
# student's own machine; the visible checks are grade cells worth 0 points, so a failing one fails it.
c.Execute.kernel_name = "python3"
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

if HARNESS_PROBLEM is None and os.environ.get(URL_VARIABLE):  # else nbgrader's default, <root>/gradebook.db
    c.CourseDirectory.db_url = os.environ[URL_VARIABLE]
    try:  # before nbgrader deletes or writes anything: a missing driver or a dead server ends here, in one line
        check_gradebook(c.CourseDirectory.db_url)
    except GradingError as error:
        HARNESS_PROBLEM = f"nbgrader_config.py: {error}"

if HARNESS_PROBLEM is not None:
    refuse_to_grade(HARNESS_PROBLEM)
else:
    # Autograde reads submissions through the intake: hostile folders are refused before nbgrader copies them,
    # an invalid notebook scores zero with its reason (course.grading.nbgrader_intake).
    c.Autograde.exporter_class = "course.grading.nbgrader_intake.IntakeExporter"
    # Then the submission's nbgrader cells become the release's, and the harness fills the grade cells.
    c.Autograde.sanitize_preprocessors = [
        "course.grading.nbgrader_hooks.MatchRelease",
        "nbgrader.preprocessors.ClearOutput",
        "nbgrader.preprocessors.DeduplicateIds",
        "nbgrader.preprocessors.OverwriteKernelspec",
        "nbgrader.preprocessors.OverwriteCells",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    c.Autograde.autograde_preprocessors = [  # HarnessScores runs nbgrader's Execute for other assignments
        "course.grading.nbgrader_hooks.HarnessScores",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]

    # generate_assignment also exports solutions/ from the notebook it releases (never stale after nbgrader's build).
    _NBGRADER_STEPS = GenerateAssignment.class_traits()["preprocessors"].default()
    c.GenerateAssignment.preprocessors = ["course.grading.nbgrader_hooks.ExportSolutions", *_NBGRADER_STEPS]

    # The exchange: a notebook saved under another name is graded as tinygpt.ipynb and gets its feedback back.
    c.ExchangeFactory.collect = "course.grading.exchange.CollectSubmissions"
    c.ExchangeFactory.release_feedback = "course.grading.exchange.ReleaseFeedback"
