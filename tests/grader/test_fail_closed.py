"""Fail closed: when the harness cannot be loaded, nbgrader never grades with its defaults and awards nothing.

Three ways it breaks, each through `nbgrader autograde`, the API behind Formgrader's Autograde button
(Formgrader loads nbgrader_config.py with `NbGrader().load_config_file()` inside the JupyterLab server, then calls
`NbGraderAPI.autograde`; the server must stay up, the autograde fail) and `course grade`:

- the `course` package is not importable where nbgrader runs (a hub's own nbgrader): simulated by
  `sys.modules["course"] = None` in the child process;
- course/components.py is inconsistent (points not adding up to 100): a copy of the package, first on PYTHONPATH;
- nbgrader_config.py itself raises (traitlets only logs it and goes on with nbgrader's defaults): nbgrader's
  own Execute then runs the hidden grade cells, whose source raises, so a correct solution scores 0.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from course.build import generate_release
from course.components import COMPONENTS
from course.grading.nbgrader_hooks import HIDDEN_GUARD, HIDDEN_PREFIX
from course.grading.report import GradingError
from tests.grader.helpers import GOOD_CODE
from tests.grader.test_nbgrader import mini_source, solved, submit

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
STUDENT = "ada"
NO_COURSE = "import sys; sys.modules['course'] = None\n"
NBGRADER_CLI = "from nbgrader.apps.nbgraderapp import main; sys.argv = ['nbgrader', *sys.argv[1:]]; main()\n"
FORMGRADER_API = """
from jupyter_server.serverapp import ServerApp
from nbgrader.apps import NbGraderAPI
from nbgrader.apps.baseapp import NbGrader
ServerApp.instance()  # the application of a JupyterLab server process (not one of nbgrader's commands)
app = NbGrader()
app.load_config_file()  # what Formgrader does when JupyterLab loads it
app.config.CourseDirectory.course_id = "tinygpt"  # as a hub instructor's own config would say
result = NbGraderAPI(config=app.config).autograde("tinygpt", sys.argv[1], force=True)
print("API:", result["success"])
print("API error:", (result.get("error") or "none").strip().splitlines()[-1])
print("the server is still up")
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A mini course folder with the repository's nbgrader_config.py and a correct submission."""
    root = tmp_path_factory.mktemp("closed")
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), root / "source" / "tinygpt" / "tinygpt.ipynb")
    generate_release(root)
    shutil.copy(REPO / "nbgrader_config.py", root)
    submit(root, STUDENT, solved(root, GOOD_CODE))
    return root


@pytest.fixture(scope="module")
def inconsistent(tmp_path_factory) -> Path:
    """A folder for PYTHONPATH holding a copy of the course package whose components.py adds up to 104 points."""
    folder = tmp_path_factory.mktemp("inconsistent")
    shutil.copytree(REPO / "course", folder / "course", ignore=shutil.ignore_patterns("__pycache__"))
    components = folder / "course" / "components.py"
    text = components.read_text()
    assert 'Component("tokenizer", "CharTokenizer", 8,' in text
    components.write_text(text.replace('Component("tokenizer", "CharTokenizer", 8,', 'Component("tokenizer", '
                                       '"CharTokenizer", 12,'))
    return folder


def scores(course: Path) -> dict[str, float] | None:
    """grade id -> score of the student's autograded submission in the gradebook; None when there is none."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tinygpt") as gradebook:
        try:
            submission = gradebook.find_submission("tinygpt", STUDENT)
        except MissingEntry:
            return None
        return {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}


def forget_grades(course: Path) -> None:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tinygpt") as gradebook:
        try:
            gradebook.remove_submission("tinygpt", STUDENT)
        except MissingEntry:
            pass
    shutil.rmtree(course / "autograded", ignore_errors=True)


def run(program: str, course: Path, *args: str, pythonpath: Path | None = None,
        db_url: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(course), **(
        {"PYTHONPATH": str(pythonpath)} if pythonpath else {}), **({"NBGRADER_DB_URL": db_url} if db_url else {})}
    return subprocess.run([sys.executable, "-c", f"import sys\n{program}", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)


def awarded(course: Path) -> float:
    recorded = scores(course) or {}
    return sum(points for grade_id, points in recorded.items() if grade_id.startswith(HIDDEN_PREFIX))


NOT_LOADED = "nbgrader_config.py: the course's grader cannot be loaded"


def stopped_in_one_line(finished: subprocess.CompletedProcess, cause: str) -> None:
    """nbgrader's command line: exits non-zero with the one line."""
    assert finished.returncode != 0, finished.stdout + finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith(NOT_LOADED) and cause in last, finished.stderr[-2000:]
    assert "Executing notebook" not in finished.stderr


def refused_in_one_line(finished: subprocess.CompletedProcess, cause: str, line: str = NOT_LOADED) -> None:
    """A server (Formgrader): keeps running; its autograde fails with the one line."""
    assert finished.returncode == 0 and "the server is still up" in finished.stdout, finished.stderr[-2000:]
    error = next(line for line in finished.stdout.splitlines() if line.startswith("API error:"))
    assert "API: False" in finished.stdout and error.startswith(f"API error: RuntimeError: {line}"), error
    assert cause in error and "Executing notebook" not in finished.stderr


ENTRIES = {"nbgrader autograde": (NBGRADER_CLI, stopped_in_one_line), "Formgrader API": (FORMGRADER_API,
                                                                                        refused_in_one_line)}


@pytest.mark.parametrize("entry", ENTRIES)
def test_without_the_course_package_nbgrader_stops_in_one_line(course, entry):
    forget_grades(course)
    program, outcome = ENTRIES[entry]
    args = ["autograde", "tinygpt", f"--student={STUDENT}", "--force"] if program is NBGRADER_CLI else [STUDENT]
    outcome(run(NO_COURSE + program, course, *args), "ModuleNotFoundError")
    assert scores(course) is None


@pytest.mark.parametrize("entry", ENTRIES)
def test_with_an_inconsistent_points_table_nbgrader_stops_in_one_line(course, inconsistent, entry):
    forget_grades(course)
    program, outcome = ENTRIES[entry]
    args = ["autograde", "tinygpt", f"--student={STUDENT}", "--force"] if program is NBGRADER_CLI else [STUDENT]
    finished = run(program, course, *args, pythonpath=inconsistent)
    outcome(finished, "ComponentsError: course/components.py: the points add up to 104")
    assert scores(course) is None


def test_a_server_with_a_gradebook_that_cannot_be_opened_stays_up_and_refuses_autograde(course):
    forget_grades(course)
    finished = run(FORMGRADER_API, course, STUDENT, db_url="postgresql://grader:secret-pw@127.0.0.1:1/gradebook")
    refused_in_one_line(finished, "Is the server running", line="nbgrader_config.py: cannot open the gradebook")
    assert "secret-pw" not in finished.stdout + finished.stderr and scores(course) is None


def test_course_grade_stops_without_the_course_package_or_with_an_inconsistent_table(course, inconsistent):
    command = "import runpy; runpy.run_module('course.cli', run_name='__main__')\n"
    for prefix, pythonpath, cause in [(NO_COURSE, None, "ModuleNotFoundError: import of course halted"),
                                      ("", inconsistent, "ComponentsError: course/components.py: the points add up")]:
        finished = run(prefix + command, course, "--course-dir", str(course), "grade", pythonpath=pythonpath)
        assert finished.returncode != 0 and cause in finished.stderr.strip().splitlines()[-1], finished.stderr[-2000:]
        assert not (course / "reports").exists()


@pytest.fixture
def raising_config(course):
    """The course's nbgrader_config.py with an error at its end (an instructor's typo); put back afterwards."""
    config = course / "nbgrader_config.py"
    shipped = config.read_text()
    config.write_text(shipped + "\nc.Exchange.root = EXCHANGE_ROOT  # NameError\n")
    yield config
    config.write_text(shipped)


@pytest.mark.parametrize("entry", [NBGRADER_CLI, FORMGRADER_API], ids=["nbgrader autograde", "Formgrader API"])
def test_when_the_config_file_raises_nbgrader_defaults_award_nothing(course, raising_config, entry):
    """traitlets logs the error and nbgrader runs its own Execute: the hidden cells raise, the solution scores 0."""
    forget_grades(course)
    args = (["autograde", "tinygpt", f"--student={STUDENT}", "--force", "--CourseDirectory.course_id=tinygpt"]
            if entry is NBGRADER_CLI else [STUDENT])
    finished = run(entry, course, *args)
    assert "Exception while loading config file" in finished.stderr, finished.stderr[-2000:]
    assert scores(course) == {"code_checks": 0.0, "hidden_causal_mask": 0.0, "hidden_tokenizer": 0.0}, (
        finished.stderr[-3000:])
    autograded = nbformat.read(course / "autograded" / STUDENT / "tinygpt" / "tinygpt.ipynb", as_version=4)
    errors = [output.evalue for cell in autograded.cells for output in cell.outputs if output.output_type == "error"]
    assert errors == ["not graded: nbgrader ran this cell itself instead of the course's sandboxed grader"] * 2


def test_course_grade_with_a_raising_config_file_stops_in_one_line(course, raising_config):
    from course.grading.batch import grade_course
    from tests.grader.helpers import SUITES

    forget_grades(course)
    with pytest.raises(GradingError, match=r"nbgrader_config.py: NameError: name 'EXCHANGE_ROOT' is not defined"):
        grade_course(course, progress=False, suites=SUITES, force=True)
    assert awarded(course) == 0


def test_every_hidden_cell_of_the_notebooks_ends_with_the_guard():
    for path in (REPO / "source" / "tinygpt" / "tinygpt.ipynb", REPO / "release" / "tinygpt" / "tinygpt.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        hidden = [cell for cell in cells
                  if cell["metadata"].get("nbgrader", {}).get("grade_id", "").startswith(HIDDEN_PREFIX)]
        assert len(hidden) == len(COMPONENTS)
        assert all("".join(cell["source"]).endswith(HIDDEN_GUARD) for cell in hidden), path
