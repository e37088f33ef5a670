"""`course gradescope`'s zip, run as Gradescope runs it: `run_autograder` in a scratch folder laid out like
/autograder (GRADESCOPE_AUTOGRADER_ROOT), with this repository's venv as /autograder/venv (what setup.sh
would install). The reference scores 100, the release 0, a cheating submission 0, and every
results.json is valid against Gradescope's documented format (RESULTS_SCHEMA, written from the specs page).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import nbformat
import pytest

from course.components import COMPONENTS, TOTAL_POINTS
from course.gradescope import ROOT_VARIABLE, build_autograder
from course.mutants import RELEASE, reference_submission
from course.submissions import with_appended_code

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format"): every field is optional,
# but a score is required at the top level unless every test has one.
RESULTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "score": {"type": "number"},
                "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"},
                "name_format": FORMAT,
                "number": {"type": "string"},
                "output": {"type": "string"},
                "output_format": FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY,
                "extra_data": {"type": "object"},
            },
        }},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}},
        }},
    },
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}],
}


def _cheat(root: Path) -> nbformat.NotebookNode:
    """The release plus a cell that copies the reference from the autograder's folder and forges results."""
    code = f'''
import json
import pathlib

AUTOGRADER = pathlib.Path({str(root)!r})
try:
    exec((AUTOGRADER / "source" / "solutions" / "tinygpt.py").read_text())
except OSError as error:
    print("no reference:", error)
try:
    (AUTOGRADER / "results" / "results.json").write_text(json.dumps({{"score": 100, "tests": []}}))
except OSError as error:
    print("no results:", error)
'''
    return with_appended_code(nbformat.read(RELEASE, as_version=4), code)


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return build_autograder(ROOT, output=tmp_path_factory.mktemp("zip") / "autograder.zip")


def _venv(folder: Path) -> None:
    """A real venv where setup.sh puts it, seeing this one's packages (a .pth line) instead of installing them."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    site_packages = next(folder.glob("lib/python3*/site-packages"))
    (site_packages / "course-test-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def _run_autograder(archive: Path, root: Path, notebook: nbformat.NotebookNode, name: str) -> dict:
    """Lay out `root` as Gradescope does, run its run_autograder, return results.json."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    _venv(root / "venv")
    (root / "submission").mkdir()
    nbformat.write(notebook, root / "submission" / name)
    (root / "results").mkdir()
    finished = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=600,
                              env={**os.environ, ROOT_VARIABLE: str(root)})
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert (root / "results" / "results.json").is_file(), finished.stdout + finished.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.fixture(scope="module")
def graded(autograder_zip, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("gradescope")
    cases = {"reference": (reference_submission(), "tinygpt.ipynb"),
             "release": (nbformat.read(RELEASE, as_version=4), "my work.ipynb"),
             "cheat": (_cheat(folder / "cheat"), "tinygpt.ipynb")}
    with ThreadPoolExecutor(2) as pool:
        results = pool.map(lambda case: _run_autograder(autograder_zip, folder / case, *cases[case]), cases)
        return dict(zip(cases, results, strict=True))


def test_the_zip_has_gradescopes_two_scripts_executable_and_what_grading_reads(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        entries = {entry.filename: entry for entry in archive.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert entries[script].external_attr >> 16 & stat.S_IXUSR, f"{script} is not executable"
    for needed in ("course/grading/harness.py", "course/grading/sandbox_child.py", "course/grading/probes/loss.py",
                   "tests/hidden/test_loss.py", "tests/hidden/conftest.py", "solutions/tinygpt.py",
                   "tinytorch/tensor.py", "pyproject.toml"):
        assert needed in entries, f"{needed} missing from the zip"
    assert not [name for name in entries if "__pycache__" in name or name.startswith(("source/", "release/"))]


def test_setup_installs_the_pinned_lock_shipped_in_the_zip_and_resolves_nothing_else(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        setup = archive.read("setup.sh").decode()
        assert archive.read("requirements.lock") == (ROOT / "requirements.lock").read_bytes()
    installs = [line.split() for line in setup.splitlines() if "pip install" in line and not line.startswith("#")]
    assert installs == [["/autograder/venv/bin/pip", "install", "-r", "/autograder/source/requirements.lock"],
                        ["/autograder/venv/bin/pip", "install", "--no-deps", "--no-build-isolation", "-e",
                         "/autograder/source"]]
    finished = subprocess.run(["bash", "-n"], input=setup, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr


@pytest.mark.parametrize("case", ["reference", "release", "cheat"])
def test_results_json_follows_gradescopes_format(graded, case):
    jsonschema.validate(graded[case], RESULTS_SCHEMA)


def test_reference_scores_100_with_every_component_whole(graded):
    results = graded["reference"]
    assert results["score"] == TOTAL_POINTS
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        (c.title, c.points, c.points, "passed") for c in COMPONENTS]


def test_release_scores_0_and_each_component_says_what_is_missing(graded):
    results = graded["release"]
    assert results["score"] == 0
    assert [(t["name"], t["score"], t["max_score"]) for t in results["tests"]] == [
        (c.title, 0, c.points) for c in COMPONENTS]
    assert all("FAILED" in t["output"] or "Could not check" in t["output"] for t in results["tests"])


def test_a_cheat_reading_the_reference_and_forging_results_scores_0(graded):
    results = graded["cheat"]
    assert results["score"] == 0 and len(results["tests"]) == len(COMPONENTS)
    assert all(t["score"] == 0 for t in results["tests"])


@pytest.mark.parametrize("case", ["reference", "release", "cheat"])
def test_student_facing_output_shows_no_hidden_test_code(graded, case):
    hidden = [path.read_text() for path in (ROOT / "tests" / "hidden").glob("test_*.py")]
    snippets = {line.strip() for text in hidden for line in text.splitlines() if len(line.strip()) > 30}
    texts = [graded[case]["output"], *(t["output"] for t in graded[case]["tests"])]
    for text in texts:
        assert "Traceback" not in text and "def test_" not in text and "assert " not in text
        assert not [snippet for snippet in snippets if snippet in text], text
