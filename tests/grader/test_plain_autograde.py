"""Plain `nbgrader autograde` (the kernel runs the notebook, the hidden cells call `course.grading.nbcell.score`)
gives an honest submission the same points per component as the harness: for the reference and for a
mutant, on the real assignment.

This is the slowest grader test (the notebook runs twice, each hidden cell grades in a fresh process);
`course grade`, which executes no student code outside the sandbox, stays the authoritative path.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest
from nbgrader.apps import NbGraderAPI
from traitlets.config.loader import PyFileConfigLoader

from course.components import COMPONENTS
from course.grading.gradebook import gradebook_scores
from course.grading.harness import grade_notebook
from course.mutants import mutant_submission, mutants, reference_submission
from course.submissions import write_submission

REPO = Path(__file__).resolve().parents[2]
MUTANT = "multi_head_attention/no_causal_mask"
# nbgrader 0.9 trips SQLAlchemy autoflush warnings of its own while autograding: harmless here.
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course's source in a temporary folder, its release generated into a fresh gradebook."""
    root = tmp_path_factory.mktemp("plain")
    shutil.copytree(REPO / "source", root / "source")
    config = PyFileConfigLoader("nbgrader_config.py", str(REPO)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # nbgrader runs alembic
        api = NbGraderAPI(config=config)
        assert api.generate_assignment("tinygpt")["success"]
        yield root, api


@pytest.mark.parametrize("student", ["reference", MUTANT.replace("/", "-")])
def test_plain_autograde_matches_the_harness(course, student):
    root, api = course
    by_id = {m.id: m for m in mutants()}
    notebook = reference_submission() if student == "reference" else mutant_submission(by_id[MUTANT])
    path = write_submission(notebook, root / "submitted", student)
    result = api.autograde("tinygpt", student)
    assert result["success"], result.get("error") or result.get("log")

    in_gradebook = gradebook_scores(f"sqlite:///{root / 'gradebook.db'}", "tinygpt", student)
    harness = grade_notebook(path, student)
    assert in_gradebook == {c.id: harness.points(c.id) for c in COMPONENTS}
    lost = {c.id for c in COMPONENTS if harness.points(c.id) < c.points}
    assert lost == (set() if student == "reference" else {"multi_head_attention"})
