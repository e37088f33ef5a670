"""The repository's own promises: CI runs what the README shows, nbgrader_config.py is usable as shipped,
and the code passes the style check."""

import subprocess
import sys
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[2]


def _ci_commands() -> list[str]:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    plumbing = ("#", "set ", "cd ")
    return [line for line in lines if line and not line.startswith(plumbing)]


def test_ci_runs_only_the_readme_test_command():
    commands = _ci_commands()
    assert commands == ["make test"]
    readme = (ROOT / "README.md").read_text()
    for command in commands:
        assert f"\n{command}\n" in readme, f"{command!r} is not shown on a line of its own in README.md"


def _load_nbgrader_config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()


def test_nbgrader_config_has_the_course_settings(monkeypatch):
    monkeypatch.delenv("NBGRADER_DB_URL", raising=False)
    config = _load_nbgrader_config()
    assert config.CourseDirectory.course_id == "tinygpt"
    assert Path(config.CourseDirectory.root) == ROOT
    from nbgrader.coursedir import CourseDirectory

    assert CourseDirectory(config=config).db_url == f"sqlite:///{ROOT / 'gradebook.db'}"  # nbgrader's default
    assert config.ClearSolutions.code_stub["python"] == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert config.Execute.kernel_name == "python3"
    assert 60 <= config.Execute.timeout <= 600


def test_nbgrader_database_can_be_moved_by_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NBGRADER_DB_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")  # PostgreSQL: test_postgres.py
    assert _load_nbgrader_config().CourseDirectory.db_url == f"sqlite:///{tmp_path / 'elsewhere.db'}"


def test_ruff_finds_no_style_problem():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
