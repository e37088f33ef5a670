"""The student handout holds what students need (release notebook, the contract, a working tinytorch wheel,
pinned requirements, the check command, install notes) and nothing of the instructor's: no solution code,
no hidden test, no instructor package."""

import ast
import io
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import nbformat
import numpy
import pytest
import tqdm
from packaging.requirements import Requirement

from course.build import CourseError
from course.components import implements_a_component
from course.handout import WHEEL_DEPENDENCIES, build_handout
from course.lock import STUDENT_LOCK

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "tinygpt" / "tinygpt.ipynb"
RELEASE = ROOT / "release" / "tinygpt" / "tinygpt.ipynb"
INSTALL_LINE = "pip install -r requirements.txt tinytorch-0.1.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return build_handout(ROOT, dist=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def members(archive) -> dict[str, bytes]:
    """Every file in the zip, and every file inside its wheel (named `<wheel>!<member>`)."""
    with zipfile.ZipFile(archive) as outer:
        files = {name: outer.read(name) for name in outer.namelist() if not name.endswith("/")}
    for name, data in list(files.items()):
        if name.endswith(".whl"):
            with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                files.update({f"{name}!{inner}": wheel.read(inner) for inner in wheel.namelist()})
    return files


def _wheel_name(members) -> str:
    wheels = [name for name in members if name.endswith(".whl")]
    assert len(wheels) == 1, f"expected one wheel in the handout, found {wheels}"
    return wheels[0]


def _wheel_files(members) -> dict[str, bytes]:
    """The wheel's files by their path inside it (`tinytorch/functional.py`, ...)."""
    wheel = _wheel_name(members)
    return {name.split("!", 1)[1]: data for name, data in members.items() if name.startswith(f"{wheel}!")}


# A file or folder named in the contract's code spans: `tinytorch/allocator.py`, `tests/hidden/`, `API.md`.
FILE_REFERENCE = re.compile(r"`([A-Za-z_.][\w.-]*/[\w./-]*|[\w-]+\.(?:py|md|ipynb|txt|whl|zip|toml|lock|json|csv))`")


def missing_files(text: str, shipped: set[str]) -> list[str]:
    """The files and folders `text` names that no path in `shipped` holds (as a whole, a tail or a folder)."""
    held = set()
    for path in shipped:
        parts = path.split("/")
        held |= {"/".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    return [name for name in FILE_REFERENCE.findall(text) if name.rstrip("/") not in held]


def component_ops(source: str) -> list[str]:
    """Names that `source` defines, binds or imports and that implement a graded component, as 'line name'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Store):
            names = [node.id if isinstance(node, ast.Name) else node.attr]
        elif isinstance(node, ast.alias):
            names = [node.asname or node.name.split(".")[-1]]
        else:
            continue
        found += [(node.lineno, name) for name in names if implements_a_component(name)]
    return [f"line {line} {name}" for line, name in sorted(found)]


def _solution_only_lines() -> set[str]:
    """Lines written inside the source's `### BEGIN SOLUTION` regions and nowhere else in the notebook."""
    inside, outside = set(), set()
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        in_solution = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped in ("### BEGIN SOLUTION", "### END SOLUTION"):
                in_solution = stripped == "### BEGIN SOLUTION"
            elif stripped:
                (inside if in_solution else outside).add(stripped)
    return inside - outside


def _hidden_test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests" / "hidden").glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names |= {node.name for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return names


def test_handout_holds_the_release_the_contract_the_wheel_requirements_check_and_install_notes(members):
    wheel = _wheel_name(members)
    top_level = {name for name in members if "!" not in name}
    assert top_level == {"handout/INSTALL.md", "handout/tinygpt/tinygpt.ipynb", "handout/tinygpt/API.md",
                         "handout/requirements.txt", "handout/check.py", wheel}
    assert members["handout/tinygpt/tinygpt.ipynb"] == RELEASE.read_bytes()


def test_the_contract_ships_verbatim_next_to_the_notebook_that_points_to_it(members):
    """docs/API.md is the one source: the handout's copy is byte for byte the same, and the notebook names it."""
    assert members["handout/tinygpt/API.md"] == (ROOT / "docs" / "API.md").read_bytes()
    intro = nbformat.reads(members["handout/tinygpt/tinygpt.ipynb"].decode(), as_version=4).cells[0].source
    assert "`API.md`" in intro and "next to this notebook" in intro, "the notebook should point students to API.md"


def test_the_contract_and_the_notebook_name_no_file_the_handout_lacks(members):
    """Students get API.md and the notebook as they are: every file they name is in the hand-out or the wheel."""
    shipped = {name.removeprefix("handout/") for name in members if "!" not in name} | set(_wheel_files(members))
    notebook = nbformat.reads(members["handout/tinygpt/tinygpt.ipynb"].decode(), as_version=4)
    assert missing_files(members["handout/tinygpt/API.md"].decode(), shipped) == []
    assert missing_files("\n".join(cell.source for cell in notebook.cells), shipped) == []


def test_a_contract_naming_instructor_files_is_caught():
    text = ("The reference (`solutions/tinygpt.py`), `tests/hidden/`, `tinytorch/allocator.py`, `API.md`, `1/V`, "
            "`x / y`, `nbgrader_config.py`.")
    assert missing_files(text, {"tinygpt/API.md", "tinytorch/allocator.py"}) == [
        "solutions/tinygpt.py", "tests/hidden/", "nbgrader_config.py"]


def test_the_wheel_defines_no_op_that_implements_a_graded_component(members):
    """A graded component is the student's own work: no fused attention or layer norm in the students' tinytorch
    (nor anything else named like a component's code: `LayerNorm`, `layer_norm`, `ScaledDotProductAttention`)."""
    found = {name: component_ops(data.decode()) for name, data in _wheel_files(members).items()
             if name.endswith(".py")}
    assert {name: ops for name, ops in found.items() if ops} == {}


def test_an_op_named_like_a_component_is_caught():
    source = ("import numpy as np\nfrom .ops import sdpa as scaled_dot_product_attention\n"
              "class LayerNorm(Function):\n    pass\n\n\ndef _layer_norm(x):\n    return x\n\n\n"
              "Tensor.multi_head_attention = None\ndef linear(x):\n    return x\n")
    assert component_ops(source) == ["line 2 scaled_dot_product_attention", "line 3 LayerNorm",
                                     "line 7 _layer_norm", "line 11 multi_head_attention"]


def test_requirements_are_the_student_lock_and_check_is_the_course_checker(members):
    assert members["handout/requirements.txt"] == STUDENT_LOCK.read_bytes()
    assert members["handout/check.py"] == (ROOT / "course" / "handout_check.py").read_bytes()


def test_install_notes_say_which_folder_how_to_install_start_check_and_hand_in(members):
    install = members["handout/INSTALL.md"].decode()
    for step in ("gives a folder `handout/`", "cd handout", INSTALL_LINE, "jupyter lab tinygpt/tinygpt.ipynb",
                 "python check.py", "## 4. Hand in", "`tinygpt/API.md`"):
        assert step in install, f"INSTALL.md should contain {step!r}"
    assert Path(INSTALL_LINE.split()[-1]).name == Path(_wheel_name(members)).name


def test_wheel_declares_its_runtime_dependencies(members):
    wheel = _wheel_name(members)
    info = next(data for name, data in members.items() if name.startswith(f"{wheel}!") and name.endswith("METADATA"))
    declared = {Requirement(line.split(":", 1)[1]).name for line in info.decode().splitlines()
                if line.startswith("Requires-Dist:")}
    assert declared == set(WHEEL_DEPENDENCIES) == {"numpy", "tqdm", "ipywidgets"}


def test_wheel_holds_exactly_the_tinytorch_package(members):
    packaged = _wheel_files(members)
    code = {name: data for name, data in packaged.items() if ".dist-info/" not in name}
    repository = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / "tinytorch").rglob("*.py")}
    assert code == repository
    assert all(name.startswith("tinytorch-") for name in packaged if name not in code)


def test_handout_has_no_solution_code(members):
    solution_lines = _solution_only_lines()
    assert len(solution_lines) > 50, "the source notebook should hold the solutions"
    for name, data in members.items():
        if name.endswith(".ipynb"):
            notebook = nbformat.reads(data.decode(), as_version=4)
            lines = {line.strip() for cell in notebook.cells for line in cell.source.splitlines()}
            assert not lines & solution_lines, f"{name} contains solution code: {sorted(lines & solution_lines)[:3]}"
        text = data.decode(errors="replace")
        for marker in ("BEGIN SOLUTION", "END SOLUTION"):
            assert marker not in text, f"{name} contains {marker!r}"


def test_handout_has_no_hidden_test(members):
    test_names = _hidden_test_names()
    assert len(test_names) >= 12, "tests/hidden should hold the hidden suites"
    for name, data in members.items():
        text = data.decode(errors="replace")
        for secret in ("BEGIN HIDDEN TESTS", "course.grading.nbcell", *test_names):
            assert secret not in text, f"{name} contains {secret!r}"


def test_wheel_installs_into_a_fresh_environment(members, tmp_path):
    wheel = tmp_path / Path(_wheel_name(members)).name
    wheel.write_bytes(members[_wheel_name(members)])
    venv.create(tmp_path / "fresh", with_pip=False)
    python = tmp_path / "fresh" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    # The wheel's dependencies come from this environment (no download): a folder holding only numpy and tqdm.
    dependencies = tmp_path / "dependencies"
    dependencies.mkdir()
    for module in (numpy, tqdm):
        package = Path(module.__file__).parent
        for path in package.parent.glob(f"{package.name}[.-]*"):
            (dependencies / path.name).symlink_to(path)
        (dependencies / package.name).symlink_to(package)
    site_packages = next((tmp_path / "fresh" / "lib").glob("python3*/site-packages"))
    (site_packages / "dependencies.pth").write_text(f"{dependencies}\n")
    script = ("import tinytorch as tt; x = tt.Tensor([1.0, 2.0, 3.0], requires_grad=True); (x * x).sum().backward(); "
              "print(tt.__file__); print(x.grad.tolist())")
    result = subprocess.run([str(python), "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    location, gradient = result.stdout.splitlines()
    assert Path(location).is_relative_to(site_packages)
    assert gradient == "[2.0, 4.0, 6.0]"


def test_a_release_holding_solutions_is_never_handed_out(tmp_path):
    (tmp_path / "release" / "tinygpt").mkdir(parents=True)
    (tmp_path / "release" / "tinygpt" / "tinygpt.ipynb").write_bytes(SOURCE.read_bytes())
    with pytest.raises(CourseError, match="contains instructor material .*BEGIN SOLUTION"):
        build_handout(tmp_path)
    assert not (tmp_path / "dist" / "handout").exists()
    assert not (tmp_path / "dist" / "handout.zip").exists()
