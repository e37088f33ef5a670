"""Plain `nbgrader autograde` (the CLI), Formgrader's Autograde button (NbGraderAPI.autograde) and `course grade`
give the same per-component scores on the real assignment: the sandboxed harness's, with no student code in
nbgrader's process. Forgeries that beat an in-kernel grader (replace what grade cells call, set the variables
the grader reads, write outside their folder, read the reference from the course folder, patch numpy) get 0
and leave no file behind; the reference gets 100. Validate fails on the release and passes on the reference.
"""

import hashlib
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbgrader.apps import NbGraderAPI

from course.build import generate_release
from course.components import COMPONENTS
from course.grading.batch import grade_course
from course.grading.gradebook import gradebook_scores, nbgrader_config
from course.mutants import reference_submission
from course.submissions import with_appended_code, write_submission

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
TOKEN = uuid.uuid4().hex[:8]
OUTSIDE = Path(f"/tmp/forged-{TOKEN}.txt")

# Top-level statements: an in-kernel grader (the old hidden cells) ran them; the harness never does.
KERNEL_FORGERY = f'''
import os, pathlib
import numpy as np
os.environ["COURSE_SKIP_HIDDEN"] = "1"
pathlib.Path("{OUTSIDE}").write_text("forged from the kernel")
np.allclose = np.array_equal = lambda *args, **kwargs: True
import course.grading.harness as harness
harness.grade_notebook = lambda *args, **kwargs: None
def score(component):
    return 100.0
'''


def sandbox_forgery(course: Path) -> str:
    """Definitions that attack from inside the code the probes run."""
    return f'''
import os
import numpy as np


def _steal(name):
    namespace = {{}}
    exec(open("{course}/solutions/tinygpt.py").read(), namespace)  # the reference, from the course folder
    return namespace[name]


class CharTokenizer:
    def __new__(cls, *args, **kwargs):
        return _steal("CharTokenizer")(*args, **kwargs)


def causal_mask(seq_len):
    os.environ["COURSE_SKIP_HIDDEN"] = "1"
    os.environ["NBGRADER_EXECUTION"] = "validate"
    open("{OUTSIDE}", "w").write("forged from the sandbox")
    open("{course}/forged.txt", "w").write("forged")
    return np.zeros((seq_len, seq_len), bool)


def scaled_dot_product_attention(q, k, v, mask=None):
    np.allclose = np.array_equal = lambda *args, **kwargs: True
    np.testing.assert_allclose = lambda *args, **kwargs: None
    return v, None
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The real assignment in a temporary course folder (source, solutions, release, gradebook) with three
    submissions graded by `course grade`."""
    root = tmp_path_factory.mktemp("plain")
    for folder in ("source", "solutions"):
        shutil.copytree(REPO / folder, root / folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("NBGRADER_DB_URL", raising=False)
        generate_release(root)
        release = root / "release" / "tinygpt" / "tinygpt.ipynb"
        stubs = nbformat.read(release, as_version=4)
        write_submission(reference_submission(release, root / "source" / "tinygpt" / "tinygpt.ipynb"),
                         root / "submitted", "reference")
        write_submission(with_appended_code(stubs, KERNEL_FORGERY), root / "submitted", "kernel-forger")
        write_submission(with_appended_code(stubs, sandbox_forgery(root)), root / "submitted", "sandbox-forger")
        conftest = hashlib.sha256((REPO / "conftest.py").read_bytes()).hexdigest()
        reports = {r.student: r for r in grade_course(root, progress=False, force=True)}
        yield root, reports, conftest
    OUTSIDE.unlink(missing_ok=True)


def untouched(root: Path, conftest: str) -> None:
    assert not OUTSIDE.exists() and not (root / "forged.txt").exists()
    assert hashlib.sha256((REPO / "conftest.py").read_bytes()).hexdigest() == conftest


def test_course_grade_gives_the_forgeries_nothing_and_the_reference_100(course):
    root, reports, conftest = course
    assert {s: r.total for s, r in reports.items()} == {"kernel-forger": 0, "reference": 100, "sandbox-forger": 0}
    untouched(root, conftest)


def test_nbgrader_autograde_cli_gives_the_same_scores_as_course_grade(course):
    root, reports, conftest = course
    finished = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "tinygpt", "--force",
                               f"--CourseDirectory.root={root}"], cwd=REPO, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "Executing notebook" not in finished.stderr and "not recognized" not in finished.stderr
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    for student, report in reports.items():
        assert gradebook_scores(db_url, "tinygpt", student) == {c.id: report.points(c.id) for c in COMPONENTS}
    untouched(root, conftest)


def test_formgraders_autograde_api_gives_the_same_scores(course, monkeypatch):
    root, reports, conftest = course
    monkeypatch.delenv("NBGRADER_DB_URL", raising=False)
    result = NbGraderAPI(config=nbgrader_config(root)).autograde("tinygpt", "sandbox-forger", force=True)
    assert result["success"], result.get("error") or result.get("log")
    scores = gradebook_scores(f"sqlite:///{root / 'gradebook.db'}", "tinygpt", "sandbox-forger")
    assert scores == {c.id: 0.0 for c in COMPONENTS}
    untouched(root, conftest)


def validate(notebook: Path) -> subprocess.CompletedProcess:
    return subprocess.run([REPO / ".venv" / "bin" / "nbgrader" if (REPO / ".venv").is_dir() else "nbgrader",
                           "validate", str(notebook)], cwd=REPO, capture_output=True, text=True, timeout=900)


def test_validate_fails_on_the_release_naming_the_parts_not_done():
    release = REPO / "release" / "tinygpt" / "tinygpt.ipynb"
    checks = [cell for cell in nbformat.read(release, as_version=4).cells
              if cell.metadata.get("nbgrader", {}).get("grade") and cell.metadata.nbgrader["points"] == 0]
    assert len(checks) >= len(COMPONENTS) - 1  # every component but end_to_end has visible checks, worth 0 points
    finished = validate(release)
    assert f"VALIDATION FAILED ON {len(checks)} CELL(S)" in finished.stdout, finished.stdout[-2000:] + finished.stderr
    for name in ("CharTokenizer()", "PositionalEncoding(", "causal_mask(", "MultiHeadAttention(", "LayerNorm(",
                 "TransformerBlock(", "TinyGPT(", "LanguageModelLoss()", "LanguageModelTrainer(", "generate("):
        assert name in finished.stdout, name


def test_validate_passes_on_the_reference(course, tmp_path):
    """The reference up to its last graded cell: the training and timing demos after it grade nothing and take
    minutes (tests/notebooks runs the whole notebook)."""
    reference = nbformat.read(course[0] / "submitted" / "reference" / "tinygpt" / "tinygpt.ipynb", as_version=4)
    last = max(i for i, cell in enumerate(reference.cells) if cell.metadata.get("nbgrader", {}).get("grade"))
    reference.cells = [cell for i, cell in enumerate(reference.cells) if i <= last and (
        "nbgrader" in cell.metadata or cell.cell_type != "code" or i < 3)]  # checks, answers, the imports
    nbformat.write(reference, tmp_path / "tinygpt.ipynb")
    finished = validate(tmp_path / "tinygpt.ipynb")
    assert "Success! Your notebook passes all the tests." in finished.stdout, finished.stdout[-3000:]
