"""No channel between submissions: what one leaves in any kernel object, another never finds.

Writer/reader pairs (tests/grader/channels.py) graded one after the other and side by side, as root and
as an unprivileged user, through `run_probe`, through `course grade` on a miniature course (one batch)
and through plain `nbgrader autograde` (a separate process per student, so across batches); the Dask
path runs the same harness and sandbox in its workers (tests/cluster/test_cluster_channels.py). Nothing
of the grader is importable or visible from a solution cell, and nothing is left on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

import course.grading.sandbox as sandbox
from course.build import generate_release
from course.grading.batch import grade_course
from course.grading.gradebook import gradebook_scores
from course.grading.sandbox import Limits, run_probe
from tests.grader.channels import ENVIRONMENT, OWN_DESCRIPTORS, READER, WRITER, reader_solution
from tests.grader.helpers import GOOD_CODE, LIMITS, PROBES, SUITES, write_notebook
from tests.grader.test_nbgrader import mini_source, solved, submit

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(sandbox.namespace_prefix() is None, reason="needs unshare (namespaces)"),
              pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]
DENIED = "PermissionError: [Errno 1] Operation not permitted"
KERNEL_OBJECTS = ["sysv_shm", "sysv_semaphore", "sysv_message_queue", "posix_message_queue", "memfd", "keyring"]
SLOW_WRITER = WRITER + "\n\ndef attack():\n    import time\n    time.sleep(3)\n    return LEFT\n"


def host_state() -> dict:
    """What a submission could leave on the host: System V objects, /dev/shm entries, shared memory (MB)."""
    ipcs = subprocess.run(["ipcs"], capture_output=True, text=True, check=True).stdout
    shmem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("Shmem:")) // 1024
    return {"sysv": [line for line in ipcs.splitlines() if "0x005eed21" in line],
            "dev_shm": sorted(name for name in os.listdir("/dev/shm") if "tinygpt" in name), "shmem_mb": shmem}


def assert_reader_found_nothing(found: dict) -> None:
    hits = {name: value for name, value in found.items()
            if name not in ("descriptors", "environment_keys") and value and not isinstance(value, dict)}
    assert hits == {}
    assert set(found["descriptors"]) <= OWN_DESCRIPTORS
    assert found["environment_keys"] == ENVIRONMENT


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> dict:
    """Writer, then reader (one after the other), then a slow writer and a reader side by side."""
    folder = tmp_path_factory.mktemp("pair")
    writer, reader = write_notebook(folder / "writer.ipynb", WRITER), write_notebook(folder / "reader.ipynb", READER)
    slow, second = (write_notebook(folder / "slow.ipynb", SLOW_WRITER),
                    write_notebook(folder / "reader2.ipynb", READER + "\n# second reader\n"))
    before = host_state()
    runs = {"writer": run_probe(writer, "attack", {}, LIMITS, probes=PROBES),
            "reader": run_probe(reader, "attack", {}, LIMITS, probes=PROBES)}
    with ThreadPoolExecutor(2) as pool:
        slow_run = pool.submit(run_probe, slow, "attack", {}, LIMITS, probes=PROBES)
        time.sleep(1.5)  # the slow writer's objects and lingering process exist while the reader loads
        runs["side_reader"] = run_probe(second, "attack", {}, LIMITS, probes=PROBES)
        runs["slow_writer"] = slow_run.result()
    sandbox.close_sessions()
    return {"runs": runs, "before": before, "after": host_state()}


def test_every_kernel_object_is_denied_to_graded_code(pair):
    left = pair["runs"]["writer"].values["attack"]
    assert {name: left[name] for name in KERNEL_OBJECTS} == {name: {"error": DENIED} for name in KERNEL_OBJECTS}
    assert left["posix_shm"]["error"].startswith("FileNotFoundError")  # no /dev/shm in the sandbox
    assert left["abstract_socket"] == left["environment"] == "left"  # allowed, but per component: see the reader
    assert set(left["files"]) == {"/sandbox/work"}  # its own work folder (the cwd and HOME): fresh per component


@pytest.mark.parametrize("reader", ["reader", "side_reader"])
def test_a_reader_finds_nothing_one_after_the_other_or_side_by_side(pair, reader):
    run = pair["runs"][reader]
    assert run.status == "ok", run.reason
    assert_reader_found_nothing(run.values["attack"])


def test_nothing_is_left_on_the_host(pair):
    assert pair["after"]["sysv"] == [] and pair["after"]["dev_shm"] == []
    assert pair["after"]["shmem_mb"] - pair["before"]["shmem_mb"] < 64  # the machine is shared: others' noise


def test_with_the_seccomp_filter_off_namespaces_still_separate_runs(notebook, tmp_path, monkeypatch):
    """The fallback where no system call table is known: per-component IPC and network namespaces."""
    monkeypatch.setattr(sandbox, "seccomp_available", lambda: False)
    before = host_state()
    writer = run_probe(notebook(WRITER, name="w.ipynb"), "attack", {}, LIMITS, probes=PROBES)
    reader = run_probe(notebook(READER, name="r.ipynb"), "attack", {}, LIMITS, probes=PROBES)
    sandbox.close_sessions()
    left, found = writer.values["attack"], reader.values["attack"]
    assert left["sysv_shm"] == left["sysv_message_queue"] == left["memfd"] == left["abstract_socket"] == "left"
    for name in ("sysv_shm", "sysv_semaphore", "sysv_message_queue", "posix_message_queue", "memfd",
                 "abstract_socket", "posix_shm", "files", "environment"):
        assert not found[name] or isinstance(found[name], dict), name
    assert any(line.startswith("NOT active: seccomp") for line in reader.protections)
    big = run_probe(notebook(WRITER.split("\n\ndef _shm")[0] + f"""

def attack():
    return _try(lambda: _checked(_LIBC.shmget(0, {LIMITS.disk_mb + 1} << 20, 0o1600)))
""", name="big.ipynb"), "attack", {}, LIMITS, probes=PROBES)
    assert big.values["attack"] == {"error": "OSError: [Errno 22] Invalid argument"}  # past shmmax: the quota
    assert host_state()["sysv"] == before["sysv"] == []


GRADER_SPY = '''
import gc
import importlib
import os
import sys


def _spy():
    seen = {"imported": [], "listed": {}}  # short: an error message is cut at 500 characters
    for name in ("probes", "probes.standins", "probes.common", "sandbox_child", "course", "course_definitions",
                 "IPython", "IPython.core.inputtransformer2"):
        try:
            importlib.import_module(name)
            seen["imported"].append(name)
        except ImportError:
            pass
    for folder in ("/sandbox", "/sandbox/grader", "/sandbox/lib"):
        try:
            seen["listed"][folder] = sorted(os.listdir(folder))
        except OSError as error:
            seen["listed"][folder] = type(error).__name__
    seen["cached"] = sorted(path for path in sys.path_importer_cache if "grader" in path or "probes" in path)
    seen["modules"] = sorted(name for name in sys.modules if name.split(".")[0] in ("probes", "course_definitions")
                             or name.startswith("IPython"))
    seen["stand_ins"] = sorted({obj.__name__ for obj in gc.get_objects()
                                if isinstance(obj, type) or callable(obj) and hasattr(obj, "__code__")
                                if getattr(obj, "__module__", "") == "probes.standins"})
    return seen


def scaled_dot_product_attention(q, k, v, mask=None):
    raise RuntimeError(repr(_spy()))


class MultiHeadAttention:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(repr(_spy()))
'''


@pytest.mark.parametrize(("component", "stand_ins"), [("attention", ["reference_causal_mask"]),
                                                      ("multi_head_attention", ["reference_attention",
                                                                                "reference_causal_mask"])])
def test_nothing_of_the_grader_is_importable_or_listable(notebook, component, stand_ins):
    """Only the stand-ins the component's probe swaps in are in memory (never one implementing it)."""
    import ast

    import numpy as np

    request = {"hand_case": {name: np.ones((1, 2, 2)) for name in "qkv"}, "indivisible": [4, 3]}
    run = run_probe(notebook(GRADER_SPY), component, request, Limits(seconds=20))
    messages = [*run.errors.values(), *(value["message"] for value in run.values.values() if "message" in value)]
    messages = [message.split("RuntimeError: ", 1)[-1] for message in messages if "imported" in message]
    assert messages, (run.errors, run.values)
    seen = ast.literal_eval(messages[0])
    assert seen["imported"] == []
    assert seen["listed"] == {"/sandbox": ["grader", "lib", "work"], "/sandbox/grader": [],  # an empty mount point
                              "/sandbox/lib": ["tinytorch"]}
    assert seen["modules"] == seen["cached"] == []
    assert seen["stand_ins"] == stand_ins


def test_as_an_unprivileged_user_a_reader_finds_nothing(tmp_path):
    """As uid 65534 (user namespaces, no uid of its own): writer, then reader, one process after the other."""
    if os.geteuid() != 0:
        pytest.fail("this test switches to an unprivileged uid and must start as root (as in CI)")
    tmp_path.chmod(0o755)
    notebooks = [write_notebook(tmp_path / "writer.ipynb", WRITER), write_notebook(tmp_path / "reader.ipynb", READER)]
    for path in notebooks:
        path.chmod(0o644)
    results = {}
    for notebook in notebooks:  # two processes: what the first left must not reach the second
        out = tmp_path / f"{notebook.stem}.json"
        out.touch()
        os.chown(out, 65534, 65534)
        command = ["unshare", "--mount", sys.executable, "-m", "tests.grader.channels", "65534", str(out),
                   str(notebook)]
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
                       "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        finished = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr[-3000:]
        results.update(json.loads(out.read_text()))
    writer, reader = results["writer.ipynb"], results["reader.ipynb"]
    assert writer["uid"] == reader["uid"] == 65534
    assert writer["values"]["attack"]["sysv_shm"] == {"error": DENIED}
    assert reader["status"] == "ok", reader["reason"]
    assert_reader_found_nothing(reader["values"]["attack"])
    assert host_state()["sysv"] == []


@pytest.fixture(scope="module")
def course_batch(tmp_path_factory) -> Path:
    """A miniature course (causal_mask 6 points, tokenizer 8) graded once by `course grade`'s batch: a writer,
    a reader that passes causal_mask only if it found what the writer left, and an untouched victim."""
    course = tmp_path_factory.mktemp("course")
    (course / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), course / "source" / "tinygpt" / "tinygpt.ipynb")
    generate_release(course)
    for student, code in {"a-writer": WRITER + GOOD_CODE, "b-reader": reader_solution(GOOD_CODE),
                          "c-victim": GOOD_CODE}.items():
        submit(course, student, solved(course, code))
    grade_course(course, progress=False, suites=SUITES, force=True)
    return course


def test_course_grade_a_reader_graded_after_a_writer_gets_nothing_from_it(course_batch):
    db_url = f"sqlite:///{course_batch / 'gradebook.db'}"
    assert gradebook_scores(db_url, "tinygpt", "a-writer") == {"causal_mask": 6, "tokenizer": 8}
    assert gradebook_scores(db_url, "tinygpt", "b-reader") == {"causal_mask": 0, "tokenizer": 8}
    assert gradebook_scores(db_url, "tinygpt", "c-victim") == {"causal_mask": 6, "tokenizer": 8}


def test_plain_nbgrader_autograde_a_reader_in_a_later_batch_gets_nothing(course_batch):
    """One `nbgrader autograde` process after `course grade`'s batch: its reader comes after two writers, one
    in its own batch (d-writer), one in the earlier batch (a-writer)."""
    submit(course_batch, "d-writer", solved(course_batch, WRITER + GOOD_CODE))
    submit(course_batch, "e-reader", solved(course_batch, reader_solution(GOOD_CODE)))
    finished = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", "tinygpt", f"--CourseDirectory.root={course_batch}",
         f"--HarnessScores.suites={SUITES}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "d-writer" in finished.stderr and "e-reader" in finished.stderr, finished.stderr[-2000:]
    db_url = f"sqlite:///{course_batch / 'gradebook.db'}"
    assert gradebook_scores(db_url, "tinygpt", "d-writer") == {"causal_mask": 6, "tokenizer": 8}
    assert gradebook_scores(db_url, "tinygpt", "e-reader") == {"causal_mask": 0, "tokenizer": 8}
    assert host_state()["sysv"] == []
