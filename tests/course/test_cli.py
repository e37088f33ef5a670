"""`course --help` lists every command, one line each."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("build", "check", "grade", "demo", "handout", "train", "sample")


def test_help_lists_every_command_on_one_line():
    result = subprocess.run([sys.executable, "-m", "course.cli", "--help"], cwd=ROOT, capture_output=True,
                            text=True, env={"COLUMNS": "80", "PATH": ""}, check=True)
    lines = result.stdout.split("options:")[0].splitlines()
    continued = [line for line in lines if line.startswith(" " * 20)]
    assert not continued, f"descriptions wrapped onto a second line: {continued}"
    for command in COMMANDS:
        described = [line for line in lines if line.split()[:1] == [command] and len(line.split()) > 1]
        assert len(described) == 1, f"{command!r} should have one line with its description:\n{result.stdout}"
