"""nbgrader's exchange end to end with the real assignment and a local exchange folder, every step a real
nbgrader command: generate_assignment, release_assignment, fetch_assignment and submit (as each student, in
their own home folder), collect, autograde, generate_feedback, release_feedback, fetch_feedback.

ada hands in the reference saved as `TinyGPT (1).ipynb`; bob hands in the untouched release. The release
carries what the notebook points to (API.md, check.py); generate_assignment rewrote solutions/; ada's
renamed notebook is graded (100) and her feedback comes back under her file's name; bob scores 0.
"""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course.mutants import reference_submission

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
RENAMED = "TinyGPT (1).ipynb"


def nbgrader(*args: str, cwd: Path, student: str | None = None) -> subprocess.CompletedProcess:
    """One nbgrader command in `cwd`, which is also its HOME; a student's names them with `--student` (nbgrader
    would take the name of the process's user, and these tests run as one user)."""
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(cwd), "LANG": "C.UTF-8"}
    who = [f"--student={student}"] if student else []
    finished = subprocess.run([sys.executable, "-m", "nbgrader", *args, *who], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=900)
    who = student or "instructor"
    assert finished.returncode == 0, f"nbgrader {' '.join(args)} ({who}):\n{finished.stderr[-3000:]}"
    return finished


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """(course folder, student homes) after the whole round trip."""
    top = tmp_path_factory.mktemp("exchange")
    exchange, course = top / "exchange", top / "course"
    exchange.mkdir(mode=0o777)
    shutil.copytree(REPO / "source", course / "source")  # follows source/tinygpt's links to API.md and check.py
    settings = f'\nc.Exchange.root = "{exchange}"\n'
    (course / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + settings)
    nbgrader("generate_assignment", "tinygpt", cwd=course)
    nbgrader("release_assignment", "tinygpt", cwd=course)
    homes = {}
    for student in ("ada", "bob"):
        home = homes[student] = top / student
        home.mkdir()
        (home / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.course_id = "tinygpt"{settings}')
        nbgrader("fetch_assignment", "tinygpt", cwd=home, student=student)
    folder = homes["ada"] / "tinygpt"
    shutil.copytree(folder, top / "fetched")  # what a student receives, before ada's work
    nbformat.write(reference_submission(folder / "tinygpt.ipynb", course / "source" / "tinygpt" / "tinygpt.ipynb"),
                   folder / RENAMED)
    (folder / "tinygpt.ipynb").unlink()
    for student, home in homes.items():
        nbgrader("submit", "tinygpt", cwd=home, student=student)
    nbgrader("collect", "tinygpt", cwd=course)
    nbgrader("autograde", "tinygpt", cwd=course)
    nbgrader("generate_feedback", "tinygpt", cwd=course)
    nbgrader("release_feedback", "tinygpt", cwd=course)
    for student, home in homes.items():
        nbgrader("fetch_feedback", "tinygpt", cwd=home, student=student)
    return course, homes, top / "fetched"


def test_the_release_ships_what_the_notebook_points_to(round_trip):
    _, _, fetched = round_trip
    assert sorted(p.name for p in fetched.iterdir()) == ["API.md", "check.py", "tinygpt.ipynb"]
    assert filecmp.cmp(fetched / "API.md", REPO / "docs" / "API.md", shallow=False)
    assert filecmp.cmp(fetched / "check.py", REPO / "course" / "handout_check.py", shallow=False)


def test_generate_assignment_rebuilt_solutions(round_trip):
    course, _, _ = round_trip
    assert filecmp.cmp(course / "solutions" / "tinygpt.py", REPO / "solutions" / "tinygpt.py", shallow=False)


def test_the_harness_graded_both_and_the_renamed_notebook_counts(round_trip):
    course, _, _ = round_trip
    assert sorted(p.name for p in (course / "submitted" / "ada" / "tinygpt").glob("*.ipynb")) == [
        RENAMED, "tinygpt.ipynb"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tinygpt") as gradebook:
        assert {s: gradebook.find_submission("tinygpt", s).score for s in ("ada", "bob")} == {"ada": 100, "bob": 0}


def test_each_student_fetches_feedback_under_the_name_they_submitted(round_trip):
    _, homes, _ = round_trip
    for student, name in (("ada", RENAMED), ("bob", "tinygpt.ipynb")):
        feedback = list((homes[student] / "tinygpt" / "feedback").glob(f"*/{Path(name).stem}.html"))
        assert len(feedback) == 1, f"{student}: {list((homes[student] / 'tinygpt').rglob('*'))}"
        text = feedback[0].read_text()
        assert ("Score: 100.0" if student == "ada" else "Score: 0.0") in text
        assert "BEGIN HIDDEN TESTS" not in text and "def test_" not in text
