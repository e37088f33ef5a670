"""The allowlist sandbox end to end, as root (CI) and as an unprivileged user (an instructor's laptop).

A second checkout of this repository sits outside the course folder (in /srv), world-readable; the
untouched release with two attack cells appended (a definition-time search of the whole file system
that takes the reference if it finds one, and forged records into every reachable channel) must
score exactly what the untouched release scores, both ways, with the same protections.
"""

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from course.submissions import with_appended_code
from tests.grader.helpers import CHANNEL_FORGER, STEALER
from tests.grader.unprivileged import REPO, grade, run_as

RELEASE = REPO / "release" / "tinygpt" / "tinygpt.ipynb"
REPORT_ATTACK = '''
def attack():
    homes = {folder: sorted(os.listdir(folder)) for folder in ("/root", "/home") if os.path.isdir(folder)}
    pids = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return {"found": FOUND, "taken": TAKEN, "forged": FORGED, "homes": homes, "pids": pids}
'''


@pytest.fixture(scope="module")
def second_checkout():
    """A world-readable copy of the repository (reference and hidden tests included) in /srv."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is not installed: the sandbox needs it")
    Path("/srv").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="tinygpt-last-term-", dir="/srv"))
    shutil.copytree(REPO, folder / "tinygpt", ignore=shutil.ignore_patterns(".venv*", ".git", "__pycache__"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder / "tinygpt"
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def notebooks(second_checkout):
    """The untouched release and the same with the attack cells, in a folder an unprivileged user may read."""
    folder = Path(tempfile.mkdtemp(prefix="allowlist-"))
    folder.chmod(0o755)
    untouched = folder / "untouched.ipynb"
    shutil.copy(RELEASE, untouched)
    attacked = with_appended_code(nbformat.read(RELEASE, as_version=4), STEALER)
    for code in (CHANNEL_FORGER, REPORT_ATTACK):
        attacked = with_appended_code(attacked, code)
    nbformat.write(attacked, folder / "attacked.ipynb")
    for path in folder.iterdir():
        path.chmod(0o644)
    yield [untouched, folder / "attacked.ipynb"]
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def graded(notebooks) -> dict[str, dict]:
    """mode ("root", "unprivileged") -> notebook name -> points, total, protections, the attack's findings."""
    if os.geteuid() != 0:
        pytest.fail("these tests grade as root and as a throwaway uid: run them as root (CI does)")
    uid = 3_000_000 + secrets.randbelow(1_000_000)  # no account needed: setuid to an unused uid
    out = notebooks[0].parent / "unprivileged.json"
    out.touch()
    os.chown(out, uid, uid)
    return {"root": grade(notebooks), "unprivileged": run_as(uid, out, notebooks, timeout=600)}


@pytest.mark.parametrize("mode", ["root", "unprivileged"])
def test_a_search_of_the_whole_file_system_finds_no_checkout_no_reference_no_hidden_test(
        graded, second_checkout, mode):
    assert (second_checkout / "solutions" / "tinygpt.py").is_file()  # it is there, readable by anyone
    result = graded[mode]["attacked.ipynb"]
    assert result["attack_status"] == "ok", (result["attack_reason"], result["attack_output"])
    found = result["attack"]["attack"]["found"]
    assert found["folders"] > 20  # the search did walk the sandbox's whole tree
    assert found["solutions"] == found["hidden_tests"] == found["checkouts"] == []
    assert result["attack"]["attack"]["taken"] is None
    on_the_way = [Path(sys.base_prefix).resolve(), REPO]  # homes show only the way to Python (pyenv, say)
    for home, entries in result["attack"]["attack"]["homes"].items():
        allowed = {path.relative_to(home).parts[0] for path in on_the_way if path.is_relative_to(home)}
        assert set(entries) <= allowed, (home, entries)


@pytest.mark.parametrize("mode", ["root", "unprivileged"])
def test_proc_shows_only_the_components_own_processes(graded, mode):
    assert graded[mode]["attacked.ipynb"]["attack"]["attack"]["pids"] == [1, 2]  # its supervisor and itself


@pytest.mark.parametrize("mode", ["root", "unprivileged"])
def test_searching_and_forging_gain_nothing_over_the_untouched_release(graded, mode):
    untouched, attacked = graded[mode]["untouched.ipynb"], graded[mode]["attacked.ipynb"]
    assert attacked["points"] == untouched["points"] and attacked["total"] == untouched["total"]
    assert not any("SandboxError" in message for message in attacked["messages"])


@pytest.mark.parametrize("mode", ["root", "unprivileged"])
def test_no_channel_outside_the_students_own_process_can_be_opened(graded, mode):
    forged = graded[mode]["attacked.ipynb"]["attack"]["attack"]["forged"]
    assert forged["foreign_descriptors_opened"] == []  # the supervisor's /proc/1/fd stays closed


def test_root_and_unprivileged_grading_agree(graded):
    root, user = graded["root"], graded["unprivileged"]
    assert user["untouched.ipynb"]["uid"] not in (0, os.getuid())
    for name in ("untouched.ipynb", "attacked.ipynb"):
        assert root[name]["points"] == user[name]["points"]
        assert root[name]["messages"] == user[name]["messages"]
    own_uid = [line for line in root["untouched.ipynb"]["protections"] if "uid" in line]
    assert own_uid and own_uid[0].startswith("unprivileged uid")
    without_uid = {mode: [line for line in graded[mode]["untouched.ipynb"]["protections"] if "uid" not in line]
                   for mode in graded}
    assert without_uid["root"] == without_uid["unprivileged"]
    assert any(line.startswith("allowlist root") for line in without_uid["unprivileged"])
