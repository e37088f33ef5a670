"""The gradebook on a live PostgreSQL server (started and stopped by this module): build, grade, export and
feedback; one-line errors that never show the password; concurrent graders on one course and on two course
folders sharing one gradebook. The mini assignment of test_nbgrader.py keeps it fast.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import psycopg
import pytest

from course.build import generate_release
from course.grading.database import check_gradebook
from course.grading.gradebook import gradebook_scores, nbgrader_config
from course.grading.report import GradingError
from tests.grader.helpers import GOOD_CODE, SUITES
from tests.grader.postgres_server import PASSWORD, running_server
from tests.grader.test_nbgrader import ATTENDS_NOWHERE, mini_source

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
GRADE = ("import sys; from pathlib import Path; from course.grading.batch import grade_course; "
         "grade_course(Path(sys.argv[1]), progress=False, suites=Path(sys.argv[2]))")


@pytest.fixture(scope="module")
def postgres():
    """The URL of a fresh PostgreSQL database (with a password login) on a private server."""
    try:
        server = running_server()
        url = server.__enter__()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield url
    server.__exit__(None, None, None)


@pytest.fixture
def on_postgres(postgres, monkeypatch):
    monkeypatch.setenv("NBGRADER_DB_URL", postgres)
    return postgres


def make_course(root: Path, students: dict[str, str], build: bool = True) -> Path:
    """A course folder with the mini assignment and `students` (name -> solution code) submitted."""
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), root / "source" / "tinygpt" / "tinygpt.ipynb")
    if build:
        generate_release(root)
        for student, code in students.items():
            notebook = nbformat.read(root / "release" / "tinygpt" / "tinygpt.ipynb", as_version=4)
            notebook.cells[0].source = code
            (root / "submitted" / student / "tinygpt").mkdir(parents=True)
            nbformat.write(notebook, root / "submitted" / student / "tinygpt" / "tinygpt.ipynb")
    return root


def run(*command, env_url: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **({"NBGRADER_DB_URL": env_url} if env_url else {}))
    return subprocess.run([str(c) for c in command], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def submissions(url: str, students: list[str]) -> dict[str, int]:
    """student -> rows in nbgrader's submitted_assignment table."""
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT student_id, count(*) FROM submitted_assignment "
                                  "WHERE student_id = ANY(%s) GROUP BY student_id", (students,)).fetchall()
    return dict(rows)


def test_build_grade_export_feedback_on_postgresql(on_postgres, tmp_path):
    root = make_course(tmp_path / "course", {}, build=False)
    built = run(sys.executable, "-m", "course.cli", "--course-dir", root, "build")
    assert built.returncode == 0, built.stderr[-2000:]
    assert not (root / "gradebook.db").exists()  # --course-dir: the same gradebook as grade, NBGRADER_DB_URL
    assert nbgrader_config(root).CourseDirectory.db_url == on_postgres == nbgrader_config(REPO).CourseDirectory.db_url
    for student, code in {"pg-alice": GOOD_CODE, "pg-bob": ATTENDS_NOWHERE}.items():
        notebook = nbformat.read(root / "release" / "tinygpt" / "tinygpt.ipynb", as_version=4)
        notebook.cells[0].source = code
        (root / "submitted" / student / "tinygpt").mkdir(parents=True)
        nbformat.write(notebook, root / "submitted" / student / "tinygpt" / "tinygpt.ipynb")
    graded = run(sys.executable, "-c", GRADE, root, SUITES)
    assert graded.returncode == 0, graded.stderr[-2000:]
    assert PASSWORD not in built.stdout + built.stderr + graded.stdout + graded.stderr
    assert gradebook_scores(on_postgres, "tinygpt", "pg-alice") == {"causal_mask": 6.0, "tokenizer": 8.0}
    assert gradebook_scores(on_postgres, "tinygpt", "pg-bob") == {"causal_mask": 0.0, "tokenizer": 8.0}
    export = (root / "reports" / "tinygpt" / "nbgrader_grades.csv").read_text()
    assert "pg-alice" in export and "pg-bob" in export
    assert "expected the 4x4 lower triangle" in (root / "feedback" / "pg-bob" / "tinygpt" / "tinygpt.html").read_text()
    exported = run(sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.root={root}",
                   f"--CsvExportPlugin.to={root / 'export.csv'}")
    assert exported.returncode == 0 and "pg-bob" in (root / "export.csv").read_text(), exported.stderr[-2000:]


def test_two_courses_sharing_one_gradebook_grade_at_the_same_time(on_postgres, tmp_path):
    courses = {name: make_course(tmp_path / name, {f"{name}-{i}": GOOD_CODE for i in range(2)})
               for name in ("section-a", "section-b")}
    graders = [subprocess.Popen([sys.executable, "-c", GRADE, str(root), str(SUITES)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for root in courses.values()]
    outputs = [grader.communicate(timeout=600) for grader in graders]
    assert [grader.returncode for grader in graders] == [0, 0], [err[-2000:] for _, err in outputs]
    students = [f"{name}-{i}" for name in courses for i in range(2)]
    assert submissions(on_postgres, students) == dict.fromkeys(students, 1)
    for student in students:
        assert gradebook_scores(on_postgres, "tinygpt", student) == {"causal_mask": 6.0, "tokenizer": 8.0}


def test_two_graders_on_one_course_grade_each_student_once(on_postgres, tmp_path):
    root = make_course(tmp_path / "course", {f"twice-{i}": GOOD_CODE for i in range(2)})
    graders = [subprocess.Popen([sys.executable, "-c", GRADE, str(root), str(SUITES)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [grader.communicate(timeout=600) for grader in graders]
    assert [grader.returncode for grader in graders] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sum("waiting for it to finish" in err for _, err in outputs) == 1  # one waited, said for whom
    assert sum("already graded" in err for _, err in outputs) == 1  # ... and then found the work done
    assert submissions(on_postgres, ["twice-0", "twice-1"]) == {"twice-0": 1, "twice-1": 1}


def test_errors_are_one_line_and_never_show_the_password(postgres, tmp_path):
    wrong = postgres.replace(PASSWORD, "wrong-Pw-99")
    root = make_course(tmp_path / "course", {}, build=False)
    built = run(sys.executable, "-m", "course.cli", "--course-dir", root, "build", env_url=wrong)
    assert built.returncode == 2 and built.stderr.count("\n") == 1, built.stderr
    assert "password authentication failed" in built.stderr and "wrong-Pw-99" not in built.stderr
    assert ":***@127.0.0.1" in built.stderr
    release = REPO / "release" / "tinygpt" / "tinygpt.ipynb"
    before = release.read_bytes()
    plain = run(REPO / ".venv" / "bin" / "nbgrader", "generate_assignment", "tinygpt", "--force", env_url=wrong)
    assert plain.returncode != 0 and release.read_bytes() == before  # nbgrader stopped before deleting anything
    assert plain.stderr.strip().splitlines()[-1].startswith("nbgrader_config.py: cannot open the gradebook")
    assert "wrong-Pw-99" not in plain.stdout + plain.stderr
    closed = postgres.rsplit(":", 1)[0] + ":1/gradebook"
    with pytest.raises(GradingError, match=r"^cannot open the gradebook postgresql://grader:\*\*\*@127.0.0.1:1/") as e:
        check_gradebook(closed)
    assert "\n" not in str(e.value) and PASSWORD not in str(e.value)
    with pytest.raises(GradingError, match="driver 'psycopg2' is not installed: pip install -e '.\\[postgres\\]'"):
        check_gradebook(postgres.replace("postgresql://", "postgresql+psycopg2://"))


def test_grade_finds_a_database_problem_before_it_writes_anything(postgres, tmp_path):
    """A wrong password, a server that does not answer, a missing driver: `course grade --force` stops in one line
    and every report, table and lock file is as it was (nothing graded, nothing replaced)."""
    root = make_course(tmp_path / "course", {"kept": GOOD_CODE})  # built on its own SQLite gradebook
    reports = root / "reports" / "tinygpt"
    reports.mkdir(parents=True)
    for name in ("kept.json", "kept.md", "grades.csv"):
        (reports / name).write_text(f"earlier {name}")
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    wrong = {"wrong password": postgres.replace(PASSWORD, "wrong-Pw-99"),
             "server down": postgres.rsplit(":", 1)[0] + ":1/gradebook",
             "no driver": postgres.replace("postgresql://", "postgresql+psycopg2://")}
    for case, url in wrong.items():
        graded = run(sys.executable, "-m", "course.cli", "--course-dir", root, "grade", "--force", env_url=url)
        assert graded.returncode == 2 and graded.stderr.count("\n") == 1, (case, graded.stderr)
        assert graded.stderr.startswith("course grade: error: ") and "Pw" not in graded.stderr, (case, graded.stderr)
        assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == before, case
