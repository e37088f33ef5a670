"""Plain `nbgrader autograde` and Formgrader's button take submissions in like `course grade`
(course.grading.nbgrader_intake): a hostile submission folder is refused with one line before nbgrader reads
or copies anything of it, a notebook nbformat cannot load scores zero with its reason, and the students
around them are graded as usual.

One run of the real `nbgrader autograde` on the mini course (tests/grader/test_nbgrader.py) with two victims
(correct solutions, first and last in nbgrader's order) around every hostile case.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from course.build import generate_release
from course.grading.gradebook import gradebook_scores
from tests.grader.helpers import SUITES
from tests.grader.test_nbgrader import mini_source, solved, submit

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
FULL, ZERO = {"causal_mask": 6, "tokenizer": 8}, {"causal_mask": 0, "tokenizer": 0}
# student -> the line nbgrader must log instead of reading or copying anything of the folder
REFUSED = {"bad\nname": "bad ↵ name: not graded: the folder name 'bad\\nname' is not a usable student id",
           "fifo": "fifo: not graded: tinygpt.ipynb is a FIFO; a submission may hold only folders and regular files",
           "grades": "grades: not graded: the student id 'grades' is the name of one of the grader's own outputs",
           "linked": "linked: not graded: answers.py is a symbolic link; a submission may hold only folders and "
                     "regular files",
           "zeros": "zeros: not graded: tinygpt.ipynb is a symbolic link"}
# student -> the reason its notebook scores zero (nbformat.read raised TypeError on both)
ZEROED = {"list-id": "cell 1: its id is a JSON array; expected a string",
          "int-source": "cell 1: its source is not text; expected a string or a list of strings"}


def hostile_json(course: Path, field: str, value) -> str:
    notebook = json.loads(nbformat.writes(solved(course)))
    notebook["cells"][0][field] = value
    return json.dumps(notebook)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The mini course with the repository's nbgrader_config.py, the victims and the hostile folders, after one
    `nbgrader autograde tinygpt`; (course folder, the finished command, the secret a link pointed at)."""
    root = tmp_path_factory.mktemp("intake")
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), root / "source" / "tinygpt" / "tinygpt.ipynb")
    generate_release(root)
    shutil.copy(REPO / "nbgrader_config.py", root)
    secret = tmp_path_factory.mktemp("reference") / "tinygpt.py"  # stands for solutions/, outside the folder
    secret.write_text(f"REFERENCE = {uuid.uuid4().hex!r}\n")
    for student in ("a-victim", "bad\nname", "linked", "grades", "z-victim"):  # nbgrader alone stops at a line break
        submit(root, student, solved(root))
    for student in ("fifo", "zeros", *ZEROED):
        (root / "submitted" / student / "tinygpt").mkdir(parents=True)
    folder = {student: root / "submitted" / student / "tinygpt" for student in [*REFUSED, *ZEROED]}
    (folder["linked"] / "answers.py").symlink_to(secret)
    os.mkfifo(folder["fifo"] / "tinygpt.ipynb")
    (folder["zeros"] / "tinygpt.ipynb").symlink_to("/dev/zero")
    (folder["list-id"] / "tinygpt.ipynb").write_text(hostile_json(root, "id", ["tinygpt"]))
    (folder["int-source"] / "tinygpt.ipynb").write_text(hostile_json(root, "source", [1, 2]))
    try:
        finished = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "tinygpt",
                                   f"--HarnessScores.suites={SUITES}"], cwd=root, capture_output=True, text=True,
                                  timeout=300)
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(f"nbgrader autograde did not finish in 300 s (blocked on a FIFO?): {stuck.stderr!r:.2000}")
    return root, finished, secret.read_text()


def recorded(course: Path, student: str) -> dict[str, float] | None:
    try:
        return gradebook_scores(f"sqlite:///{course / 'gradebook.db'}", "tinygpt", student)
    except MissingEntry:
        return None


def test_the_victims_get_full_marks_and_the_command_succeeds(graded):
    course, finished, _ = graded
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert recorded(course, "a-victim") == FULL and recorded(course, "z-victim") == FULL, finished.stderr[-3000:]


def test_hostile_folders_are_refused_in_one_line_and_nothing_of_them_is_read_or_recorded(graded):
    course, finished, secret = graded
    for student, line in REFUSED.items():
        assert sum(line in logged for logged in finished.stderr.splitlines()) == 1, (line, finished.stderr[-3000:])
        assert recorded(course, student) is None
        assert not (course / "autograded" / student).exists()
    assert (course / "submitted" / "fifo" / "tinygpt" / "tinygpt.ipynb").is_fifo()
    copied = [path for path in (course / "autograded").rglob("*") if path.is_file() and secret in path.read_text()]
    assert copied == []


def test_a_notebook_nbformat_cannot_load_scores_zero_with_its_reason(graded):
    course, finished, _ = graded
    for student, reason in ZEROED.items():
        assert recorded(course, student) == ZERO, finished.stderr[-3000:]
        assert f"{student}: zero: {reason}" in finished.stderr
        autograded = nbformat.read(course / "autograded" / student / "tinygpt" / "tinygpt.ipynb", as_version=4)
        assert autograded.cells[0].source.startswith("**Grader's note:** your notebook could not be graded")
        feedback = [output.text for cell in autograded.cells for output in cell.get("outputs", [])
                    if output.output_type == "stream"]
        assert len(feedback) == 2 and all(f"Could not check your code: {reason}" in text for text in feedback)


def test_formgraders_button_on_a_refused_folder_fails_with_the_reason(graded):
    """NbGraderAPI.autograde, in a child process: without the intake it would block on the FIFO for ever."""
    course, _, _ = graded
    program = ("import json, sys; from nbgrader.apps import NbGraderAPI; from course.grading.gradebook import "
               "nbgrader_config\nprint(json.dumps(NbGraderAPI(config=nbgrader_config(sys.argv[1])).autograde("
               "'tinygpt', 'fifo', force=True)))")
    env = {name: value for name, value in os.environ.items() if name != "NBGRADER_DB_URL"}
    finished = subprocess.run([sys.executable, "-c", program, str(course)], capture_output=True, text=True, env=env,
                              timeout=120)
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert not result["success"] and result["error"].strip().splitlines()[-1].endswith(REFUSED["fifo"]), result
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tinygpt") as gradebook:
        assert "fifo" not in {student.id for student in gradebook.students}
