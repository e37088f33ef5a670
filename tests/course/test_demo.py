"""`course demo` grades its samples in a scratch course (`demo/`, its own gradebook), never in the course's own
submitted/ or gradebook; afterwards `nbgrader release_feedback` works in both folders."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook

from course.grading.report import SubmissionReport

REPO = Path(__file__).resolve().parents[2]


def release_feedback(course: Path, exchange: Path) -> None:
    finished = subprocess.run([sys.executable, "-m", "nbgrader", "release_feedback", "tinygpt",
                               f"--Exchange.root={exchange}"], cwd=course, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]


def test_demo_grades_in_a_scratch_course_and_feedback_can_be_released(tmp_path):
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    shutil.copytree(REPO / "source", course / "source")
    shutil.copy(REPO / "nbgrader_config.py", course)
    exchange.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "NBGRADER_DB_URL"}
    finished = subprocess.run([sys.executable, "-m", "course.cli", "--course-dir", str(course), "demo"], cwd=REPO,
                              capture_output=True, text=True, env=env)
    assert finished.returncode == 0, finished.stderr[-2000:]
    demo = course / "demo"
    reports = (demo / "reports" / "tinygpt").glob("demo-*.json")
    totals = {p.stem: SubmissionReport.from_json(p.read_text()).total for p in reports}
    assert totals == {"demo-reference": 100, "demo-untouched": 0, "demo-partial": 44}
    assert not (course / "submitted").exists() and not (course / "reports").exists()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tinygpt") as gradebook:
        assert gradebook.students == []
    release_feedback(course, exchange)
    release_feedback(demo, exchange)
    assert len(list((exchange / "tinygpt" / "feedback").glob("*.html"))) == 3
