"""What the notebook's hidden grade cells call: `from course.grading.nbcell import score; score("<component id>")`.

`score` finds the notebook being run (COURSE_NOTEBOOK if set, else the single `tinygpt.ipynb` in
the working directory, which is where `nbgrader autograde` runs it), grades that one component with
`course.grading.harness.grade_notebook` in a fresh Python process (so never next to the kernel's student
code), prints the feedback and returns the points, which nbgrader takes as partial credit.

Trust: this runs inside the student's kernel, which the student's own cells could have tampered
with (replacing `score`, say). It gives honest submissions the same points as the harness, but the
authoritative scores are those of `course.grading.batch.grade_course`, whose nbgrader step
(`course.grading.gradebook`) executes no student code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from course.components import BY_ID, NOTEBOOK

REPO = Path(__file__).resolve().parents[2]
SKIP_VARIABLE = "COURSE_SKIP_HIDDEN"


def locate_notebook() -> Path:
    """COURSE_NOTEBOOK, else ./tinygpt.ipynb."""
    path = Path(os.environ.get("COURSE_NOTEBOOK") or Path.cwd() / NOTEBOOK)
    if not path.is_file():
        raise FileNotFoundError(f"cannot find the notebook to grade at {path}; set COURSE_NOTEBOOK or run "
                                f"from the folder holding {NOTEBOOK}")
    return path


def score(component: str) -> float:
    """Grade `component` of the running notebook; print the feedback; return the points (a float).

    With the environment variable COURSE_SKIP_HIDDEN=1 this grades NOTHING and returns the component's
    full points: it exists only for the fast test that runs the source notebook top to bottom. It is
    ignored during `nbgrader autograde` (NBGRADER_EXECUTION=autograde).
    """
    if component not in BY_ID:
        raise ValueError(f"unknown component {component!r}; expected one of {list(BY_ID)}")
    points = float(BY_ID[component].points)
    if os.environ.get(SKIP_VARIABLE) == "1" and os.environ.get("NBGRADER_EXECUTION") != "autograde":
        print(f"{BY_ID[component].title}: hidden tests skipped ({SKIP_VARIABLE}=1); counted as {points:g} points")
        return points
    program = f"import sys; sys.path.insert(0, {str(REPO)!r}); from course.grading.nbcell import main; main()"
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
                   "LANG": "C.UTF-8"}
    finished = subprocess.run([sys.executable, "-I", "-c", program, str(locate_notebook()), component],
                              capture_output=True, text=True, env=environment, cwd=REPO)
    if finished.returncode != 0:
        raise RuntimeError(f"grading {component} failed: {finished.stderr.strip()[-500:]}")
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    print(result["feedback"], end="")
    return float(result["points"])


def main() -> None:
    """`python -c ... NOTEBOOK COMPONENT`: grade one component; print {"points", "feedback"} as JSON."""
    from course.grading.harness import grade_notebook

    notebook, component = Path(sys.argv[1]), sys.argv[2]
    report = grade_notebook(notebook, student=notebook.parent.name, components=[component])
    (result,) = report.components
    feedback = result.feedback() + "".join(f"Notebook problem: {problem}\n" for problem in report.problems)
    print(json.dumps({"points": result.points, "feedback": feedback}))
