"""release/ and solutions/ are what the build makes of source/, and `out_of_sync` notices when they are not."""

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

from course.build import out_of_sync, solutions_out_of_sync

ROOT = Path(__file__).resolve().parents[2]


def test_nbgrader_reproduces_the_committed_release(tmp_path):
    shutil.copytree(ROOT / "source" / "tinygpt", tmp_path / "source" / "tinygpt")
    env = dict(os.environ, NBGRADER_DB_URL=f"sqlite:///{tmp_path / 'gradebook.db'}",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "tinygpt", "--force",
                    f"--CourseDirectory.root={tmp_path}"], cwd=ROOT, env=env, check=True, capture_output=True)
    fresh, committed = tmp_path / "release" / "tinygpt", ROOT / "release" / "tinygpt"
    comparison = filecmp.dircmp(fresh, committed)
    assert comparison.left_list == comparison.right_list
    _, mismatch, errors = filecmp.cmpfiles(fresh, committed, comparison.common_files, shallow=False)
    assert mismatch == errors == []


def test_out_of_sync_names_each_stale_file(tmp_path):
    for folder in ("source", "release", "solutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "release" / "tinygpt" / "tinygpt.ipynb").open("a") as release:
        release.write("\n")
    with (tmp_path / "solutions" / "tinygpt.py").open("a") as solutions:
        solutions.write("# edited by hand\n")
    assert out_of_sync(tmp_path) == ["release/tinygpt/tinygpt.ipynb differs from a fresh build",
                                     "solutions/tinygpt.py differs from a fresh build"]


def test_committed_solutions_are_what_the_export_writes():
    assert solutions_out_of_sync(ROOT) == []
