"""`course --help` lists every command, one line each; the demo's partial submission is what it says."""

import ast
import subprocess
import sys
from pathlib import Path

from course.cli import solution_ids_before
from course.submissions import fill_release

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("build", "check", "grade", "demo", "handout", "gradescope", "train", "sample")


def test_help_lists_every_command_on_one_line():
    result = subprocess.run([sys.executable, "-m", "course.cli", "--help"], cwd=ROOT, capture_output=True,
                            text=True, env={"COLUMNS": "80", "PATH": ""}, check=True)
    lines = result.stdout.split("options:")[0].splitlines()
    continued = [line for line in lines if line.startswith(" " * 20)]
    assert not continued, f"descriptions wrapped onto a second line: {continued}"
    for command in COMMANDS:
        described = [line for line in lines if line.split()[:1] == [command] and len(line.split()) > 1]
        assert len(described) == 1, f"{command!r} should have one line with its description:\n{result.stdout}"


def test_demo_partial_submission_solves_the_parts_up_to_multi_head_attention():
    source, release = ROOT / "source" / "tinygpt" / "tinygpt.ipynb", ROOT / "release" / "tinygpt" / "tinygpt.ipynb"
    partial = fill_release(release, source, grade_ids=solution_ids_before(source, "multi_head_attention"))
    solved, stubbed = set(), set()
    for cell in partial.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            defined = {node.name for node in ast.parse(cell.source).body
                       if isinstance(node, ast.ClassDef | ast.FunctionDef)}
            (stubbed if "NotImplementedError" in cell.source else solved).update(defined)
    assert solved >= {"CharTokenizer", "PositionalEncoding", "causal_mask", "scaled_dot_product_attention",
                      "SelfAttention", "MultiHeadAttention"}
    assert stubbed >= {"LayerNorm", "TransformerBlock", "TinyGPT", "LanguageModelLoss", "LanguageModelTrainer",
                       "generate"}
    assert not solved & stubbed
