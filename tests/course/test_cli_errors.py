"""Bad input to `course` ends with one line on stderr saying what was wrong and what was expected (exit 2),
or, when only one student's notebook is bad, a zero with that reason for that student only."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def course_dir(tmp_path) -> Path:
    """A course folder with the assignment's source and nothing else yet."""
    shutil.copytree(ROOT / "source", tmp_path / "source")
    return tmp_path


def _fails_with_one_line(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    for words in expected:
        assert words in error
    return error


def test_missing_submitted_folder(course_dir, capsys):
    _fails_with_one_line(capsys, ["--course-dir", str(course_dir), "grade"],
                         "no submissions", f"{course_dir / 'submitted'}", "expected")


def test_unknown_assignment(course_dir, capsys):
    (course_dir / "submitted").mkdir()
    _fails_with_one_line(capsys, ["--course-dir", str(course_dir), "grade", "--assignment", "nope"],
                         "unknown assignment 'nope'", "expected", "tinygpt")


def test_source_notebook_that_is_not_json(course_dir, capsys):
    (course_dir / "source" / "tinygpt" / "tinygpt.ipynb").write_text("{not json")
    _fails_with_one_line(capsys, ["--course-dir", str(course_dir), "build"],
                         "not valid notebook JSON", "expected a Jupyter .ipynb file")


def test_exit_code_and_message_from_the_command_line(course_dir):
    result = subprocess.run([sys.executable, "-m", "course.cli", "--course-dir", str(course_dir), "grade"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("course grade: error: no submissions")


def test_submitted_folder_without_submissions(course_dir, capsys):
    (course_dir / "submitted" / "alice").mkdir(parents=True)
    _fails_with_one_line(capsys, ["--course-dir", str(course_dir), "grade"], "no submissions", "expected")


@pytest.fixture(scope="module")
def built_course(tmp_path_factory) -> Path:
    """A course folder built with `course build` (so nbgrader's gradebook knows the assignment)."""
    folder = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", folder / "source")
    assert main(["--course-dir", str(folder), "build"]) == 0
    return folder


def test_bad_notebooks_score_zero_for_that_student_and_nothing_graded_is_lost(built_course, capsys):
    submitted = built_course / "submitted"
    (submitted / "alice" / "tinygpt").mkdir(parents=True)
    (submitted / "bob" / "tinygpt").mkdir(parents=True)
    (submitted / "bob" / "tinygpt" / "tinygpt.ipynb").write_text("{not json")
    reports = built_course / "reports" / "tinygpt"

    assert main(["--course-dir", str(built_course), "grade"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [row.split()[0] + " " + row.split()[-1] for row in table[1:3]] == ["alice 0", "bob 0"]
    assert "no .ipynb file" in (reports / "alice.md").read_text()
    assert "not valid notebook JSON" in (reports / "bob.md").read_text()

    first_report = (reports / "bob.json").read_bytes()
    assert main(["--course-dir", str(built_course), "grade"]) == 0
    assert "2 already graded (alice, bob): kept the reports" in capsys.readouterr().err
    assert (reports / "bob.json").read_bytes() == first_report

    assert main(["--course-dir", str(built_course), "grade", "--force"]) == 0
    assert [p.read_bytes() for p in (reports / "previous").glob("bob-*.json")] == [first_report]
