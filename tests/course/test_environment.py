"""environment.yml (conda) and pyproject.toml (pip) must list the same packages with the same bounds."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _by_name(requirements: list[str]) -> dict[str, str]:
    parsed = [Requirement(line) for line in requirements]
    return {r.name.lower(): str(r.specifier) for r in parsed}


def _conda_entries() -> list[str]:
    return yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]


def test_conda_environment_lists_the_pyproject_dependencies():
    pip_dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    conda_packages = [e for e in _conda_entries() if isinstance(e, str) and e != "pip" and not e.startswith("python")]
    assert _by_name(conda_packages) == _by_name(pip_dependencies)


def test_conda_environment_asks_for_the_supported_pythons_and_pip():
    entries = _conda_entries()
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"python{requires_python}" in entries  # the same range as pyproject.toml's
    assert "pip" in entries
    assert {"pip": ["--editable ."]} in entries  # and the course itself
