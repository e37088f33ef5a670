"""The sandbox against the known ways of forging a pass or hurting the grader.

Each attack is a notebook defining `attack()`, run with the test-only probe `attack` (cases `attack`
then `after`). What must hold: nothing the test process holds is reachable, the limits stop the
attack within their bound with a readable reason, and the run of another submission is unaffected.
"""

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

import course.grading.sandbox as sandbox
from course.components import COMPONENTS
from course.grading.sandbox import Limits, run_probe
from course.grading.sandbox_child import processes_of
from tests.grader.helpers import GOOD_CODE, LIMITS, PROBES

REPO = sandbox.REPO
ISOLATED = sandbox.namespace_prefix() is not None


FORK_BOMB = "import os\n\ndef attack():\n    while True:\n        try:\n            os.fork()\n" \
            "        except OSError:\n            continue\n"


SHORT = replace(LIMITS, seconds=2)  # for the attacks that can only end by being stopped


def attack(notebook, *cells: str, limits: Limits = LIMITS):
    return run_probe(notebook(*cells), "attack", {}, limits, probes=PROBES)


def sandbox_uid(run) -> int | None:
    for line in run.protections:
        if line.startswith("unprivileged uid"):
            return int(line.split()[2])
    return None


def test_an_honest_notebook_gets_its_values_back(notebook):
    run = run_probe(notebook(GOOD_CODE), "causal_mask", {"sizes": [3, 1]}, LIMITS, probes=PROBES)
    assert run.status == "ok" and run.reason is None and not run.errors and not run.missing
    np.testing.assert_array_equal(run.values["mask_0"], [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert run.values["mask_0"].dtype == bool


def test_repository_home_and_other_submissions_are_invisible(notebook, tmp_path):
    other = tmp_path / "submitted" / "someone-else" / "tinygpt.ipynb"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    code = f'''
import os

def attack():
    seen = {{}}
    for path in {[str(REPO), str(REPO / "tests" / "hidden"), str(REPO / "solutions"), "/root", str(other)]!r}:
        try:
            seen[path] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read()
        except OSError as error:
            seen[path] = type(error).__name__
    seen["walk"] = [os.path.join(d, f) for d, _, files in os.walk({str(REPO)!r}) for f in files
                    if "/.venv/" not in d + "/"]
    return seen
'''
    run = attack(notebook, code)
    assert run.status == "ok", run.reason
    seen = run.values["attack"]
    if ISOLATED:
        assert seen[str(REPO)] == [".venv"]  # the virtual environment is bound back, read-only, for numpy
        assert seen["walk"] == []
        assert seen[str(REPO / "tests" / "hidden")] == seen[str(REPO / "solutions")] == "FileNotFoundError"
        assert seen["/root"] == [".pyenv"] or "/root" not in os.path.realpath(os.sys.base_prefix)
        assert seen[str(other)] == "FileNotFoundError"
    else:
        assert any(line.startswith("NOT active") and "mount namespace" in line for line in run.protections)


def test_no_network_not_even_the_graders_localhost(notebook):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = f'''
import socket
from dataclasses import replace

def attack():
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        return "connected"
    except OSError as error:
        return type(error).__name__
'''
        run = attack(notebook, code)
    if ISOLATED:
        assert run.values["attack"] in ("ConnectionRefusedError", "OSError")
        assert any(line.startswith("network namespace: no network") for line in run.protections)
    else:
        assert any("network namespace" in line for line in run.protections if line.startswith("NOT active"))


def test_own_uid_and_no_other_process_visible(notebook):
    code = f'''
import os

def attack():
    try:
        os.kill({os.getpid()}, 0)
        grader = "reachable"
    except OSError as error:
        grader = type(error).__name__
    return {{"uid": os.getuid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "grader": grader}}
'''
    run = attack(notebook, code)
    seen = run.values["attack"]
    if ISOLATED and os.geteuid() == 0:
        assert seen["uid"] == sandbox_uid(run) != 0
        assert seen["pids"] == [1, 2]  # the supervisor and the worker
        assert seen["grader"] == "ProcessLookupError"
    else:
        assert seen["uid"] == os.getuid()


@pytest.mark.parametrize("exit_call", ["os._exit(0)", "os.kill(os.getpid(), 9)"])
def test_ending_the_process_early_is_never_a_pass(notebook, exit_call):
    run = attack(notebook, f"import os\n\ndef attack():\n    {exit_call}\n")
    assert run.values == {} and run.missing == ["attack", "after"]
    assert run.status in ("exited early", "crashed") and "before all checks ran" in run.reason


def test_sys_exit_fails_only_its_case(notebook):
    run = attack(notebook, "import sys\n\ndef attack():\n    sys.exit(0)\n")
    assert run.errors == {"attack": "SystemExit: 0"} and run.values == {"after": "still running"}


def test_exit_while_loading_the_notebook_leaves_every_case_missing(notebook):
    run = attack(notebook, "import os\nEXIT = os._exit(0)\n\ndef attack():\n    return 1\n")
    assert run.status == "exited early" and run.missing == ["attack", "after"] and run.values == {}


def test_endless_loop_is_stopped_by_the_wall_clock(notebook):
    run = attack(notebook, "def attack():\n    while True:\n        pass\n", limits=SHORT)
    assert run.status in ("timeout", "cpu limit") and run.missing == ["attack", "after"]
    assert run.seconds < SHORT.seconds + 3
    assert "did not finish" in run.reason or "CPU" in run.reason


def test_fork_bomb_is_contained_and_cleaned_up(notebook):
    run = attack(notebook, FORK_BOMB, limits=SHORT)
    assert run.status in ("timeout", "cpu limit") and "attack" in run.missing
    assert run.seconds < SHORT.seconds + 3
    if sandbox_uid(run) is not None:
        assert processes_of(sandbox_uid(run)) == []


def test_huge_allocation_fails_its_case_with_the_memory_limit(notebook):
    run = attack(notebook, "import numpy as np\n\ndef attack():\n    return np.ones(20 * 2**30 // 8).sum()\n")
    assert run.errors["attack"].startswith("memory limit of 1024 MB: MemoryError")
    assert run.values == {"after": "still running"}


def test_endless_printing_hits_the_output_limit(notebook):
    run = attack(notebook, "def attack():\n    while True:\n        print('spam' * 1000)\n")
    assert run.errors["attack"].startswith("output limit: printed or wrote more than 2 MB")
    assert run.values == {"after": "still running"}
    assert run.output_tail.endswith("spam")


def test_broken_cells_are_problems_and_the_rest_still_loads(notebook):
    run = attack(notebook, "def broken(:\n    pass", "import no_such_module_here", "LIMIT = 1 / 0",
                 "def attack():\n    return 'loaded'")
    assert run.values == {"attack": "loaded", "after": "still running"}
    assert run.problems[0].startswith("code cell 1: syntax error")
    assert "ModuleNotFoundError" in run.problems[1] and "ZeroDivisionError" in run.problems[2]


def test_a_missing_definition_is_an_error_of_its_case(notebook):
    run = attack(notebook, "X = 1")
    assert run.errors == {"attack": "KeyError: 'attack'"} and run.status == "ok"


def test_a_bad_submission_does_not_disturb_another_running_at_the_same_time(notebook):
    bomb_notebook = notebook(FORK_BOMB, name="bomb.ipynb")
    good = notebook(GOOD_CODE, name="good.ipynb")
    with ThreadPoolExecutor(3) as pool:
        bomb = pool.submit(run_probe, bomb_notebook, "attack", {}, SHORT, probes=PROBES)
        honest = [pool.submit(run_probe, good, "causal_mask", {"sizes": [2, 1]}, LIMITS, probes=PROBES)
                  for _ in range(2)]
        assert bomb.result().status in ("timeout", "cpu limit")
        for run in honest:
            assert run.result().status == "ok"
            np.testing.assert_array_equal(run.result().values["mask_1"], [[True]])


def test_without_namespaces_limits_still_hold_and_the_report_says_what_is_missing(notebook, monkeypatch):
    monkeypatch.setattr(sandbox, "namespace_prefix", lambda: None)
    good = run_probe(notebook(GOOD_CODE), "causal_mask", {"sizes": [2, 1]}, LIMITS, probes=PROBES)
    np.testing.assert_array_equal(good.values["mask_0"], [[True, False], [True, True]])
    assert any(line.startswith("NOT active") and "mount namespace" in line for line in good.protections)
    looping = attack(notebook, "def attack():\n    while True:\n        pass\n", limits=SHORT)
    assert looping.status in ("timeout", "cpu limit") and looping.seconds < SHORT.seconds + 3


def test_unknown_component_and_unreadable_notebook(notebook, tmp_path):
    with pytest.raises(ValueError, match="no probe module nothing.py"):
        run_probe(notebook(GOOD_CODE), "nothing", {}, LIMITS, probes=PROBES)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    run = run_probe(broken, "attack", {}, LIMITS, probes=PROBES)
    assert run.status == "unreadable notebook" and "not valid notebook JSON" in run.reason


def test_an_answer_counts_only_for_the_case_being_asked(notebook):
    # The student's code finds the current case's token in the worker's frames and answers ahead, for
    # this case and the next: it can choose this case's value (as returning it would), never another's.
    code = '''
import json
import os
import sys

def attack():
    frame = sys._getframe(1)
    while "token" not in frame.f_locals:
        frame = frame.f_back
    for case in ("attack", "after"):
        os.write(4, f"{frame.f_locals['token']} {json.dumps({'value': 'forged ' + case})}\\n".encode())
    return "honest"
'''
    run = attack(notebook, code)
    assert run.status == "ok" and run.values == {"attack": "forged attack", "after": "still running"}


def test_an_endless_loop_at_definition_time_is_marked_once_not_per_component(notebook):
    stall = notebook("def _forever():\n    while True:\n        pass\n\n\nSTALL = _forever()\n")
    started = time.monotonic()
    runs = [run_probe(stall, component.id, {}, SHORT) for component in COMPONENTS]
    assert time.monotonic() - started < SHORT.seconds + 10  # one timeout, not twelve
    assert [run.status for run in runs] == ["timeout"] * len(COMPONENTS)
    assert "while loading your notebook's definitions" in runs[0].reason and "checked once" in runs[0].reason
    assert all("not run again" in run.reason and run.values == {} and run.missing for run in runs[1:])
    honest = run_probe(notebook(GOOD_CODE, name="honest.ipynb"), "causal_mask", {"sizes": [2]}, LIMITS,
                       probes=PROBES)
    assert honest.status == "ok"


def test_components_of_one_submission_share_no_file_state_or_process(notebook):
    code = '''
import os
import time
import numpy as np

def attack():
    seen = {"file": os.path.exists("left-behind.txt"), "patched": hasattr(np, "left_behind"),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
    open("left-behind.txt", "w").write("from the last component")
    np.left_behind = True
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    return seen
'''
    submission = notebook(code)
    first, second = (run_probe(submission, "attack", {}, LIMITS, probes=PROBES) for _ in range(2))
    clean = {"file": False, "patched": False, "pids": [1, 2] if ISOLATED else first.values["attack"]["pids"]}
    assert first.values["attack"] == clean
    if ISOLATED:
        assert second.values["attack"] == clean
    crash = notebook("import os, signal\n\ndef attack():\n    os.kill(os.getpid(), signal.SIGSEGV)\n\n"
                     + GOOD_CODE, name="crash.ipynb")
    assert run_probe(crash, "attack", {}, LIMITS, probes=PROBES).status == "crashed"
    after = run_probe(crash, "causal_mask", {"sizes": [2]}, LIMITS, probes=PROBES)
    assert after.status == "ok" and after.values["mask_0"].tolist() == [[True, False], [True, True]]


def test_the_work_folder_has_a_disk_quota(notebook):
    code = '''
def attack():
    written = 0
    try:
        for number in range(10):
            with open(f"block-{number}", "wb") as file:
                file.write(bytes(1024 * 1024))
            written += 1
    except OSError as error:
        return [written, error.strerror]
    return [written, None]
'''
    run = attack(notebook, code, limits=replace(LIMITS, disk_mb=4))
    if ISOLATED:
        assert run.values["attack"][0] <= 4 and run.values["attack"][1] == "No space left on device"
    else:
        assert any("NOT active" in line and "allowlist" in line for line in run.protections)


def test_plotting_imports_wait_until_first_use_and_then_work(notebook):
    code = '''
import sys
import matplotlib.pyplot as plt
from matplotlib import colors as mcolors

def attack():
    before = "matplotlib.pyplot" in sys.modules
    return [before, plt.__name__, mcolors.to_hex("red"), "matplotlib.pyplot" in sys.modules]
'''
    assert attack(notebook, code).values["attack"] == [False, "matplotlib.pyplot", "#ff0000", True]


def test_a_worker_that_forges_loaded_and_leaves_is_the_students_failure_not_the_sandboxs(notebook):
    # "loaded" written ahead, then the pipe the questions come on closed and the worker gone: the
    # supervisor's question finds nobody; that must read as an early exit, never as a broken sandbox.
    code = "import os\nCLOSED = os.close(3)\nFORGED = os.write(4, b'loaded []\\n')\nEXIT = os._exit(0)\n"
    run = attack(notebook, code)
    assert run.status == "exited early" and run.missing == ["attack", "after"]


def test_what_tinytorch_and_the_notebook_import_is_there_and_nothing_else(notebook):
    code = '''
import importlib
from tinytorch.training import progress as progress_bar

def attack():
    found = {}
    for name in ("tqdm", "pytest", "nbgrader", "course", "solutions", "IPython"):
        try:
            importlib.import_module(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return [sum(progress_bar(range(4), desc="steps")), found]
'''
    total, found = attack(notebook, code).values["attack"]
    assert total == 6
    if ISOLATED:
        assert found == {"tqdm": True, "pytest": False, "nbgrader": False, "course": False, "solutions": False,
                         "IPython": False}


def test_every_module_of_tinytorch_is_importable_and_a_missing_name_is_reported(notebook):
    modules = sorted(f"tinytorch.{path.stem}" for path in sandbox.TINYTORCH.glob("*.py") if path.stem != "__init__")
    code = f'''
import importlib
from tinytorch import ngram
from tinytorch import no_such_name

def attack():
    return [importlib.import_module(name).__name__ for name in {modules!r}]
'''
    run = attack(notebook, code)
    assert run.status == "ok", run.reason
    assert run.values["attack"] == modules and "tinytorch.ngram" in modules
    assert len(run.problems) == 1, run.problems
    assert run.problems[0].startswith("`from tinytorch import no_such_name` raised ImportError: cannot import name "
                                      "'no_such_name' from 'tinytorch'")


HELP_LINES = "np.tril?\n" * 499  # IPython's transformer takes about 5 s of CPU for this one cell


def test_a_notebook_whose_parsing_never_ends_is_stopped_in_the_sandbox_not_in_the_grader(notebook):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    run = run_probe(notebook(HELP_LINES, HELP_LINES, GOOD_CODE), "causal_mask", {"sizes": [2]}, SHORT, probes=PROBES)
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert run.status == "unreadable notebook" and run.missing == ["mask_0", "mask_1"]
    assert run.reason == "your notebook's code could not be read (reading it did not finish within 2 s); none of " \
                         "it was run"
    assert time.monotonic() - started < 2 + sandbox.SETUP_SECONDS / 6
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 1  # the parse ran elsewhere


def test_a_cell_the_parser_cannot_hold_is_a_problem_of_that_cell_only(notebook):
    deep, huge = "x = " + "1 + " * 200_000 + "1", "y = " + "-" * 1_000_000 + "1"
    run = run_probe(notebook(deep, huge, GOOD_CODE), "causal_mask", {"sizes": [2]}, LIMITS, probes=PROBES)
    assert run.status == "ok", run.reason
    np.testing.assert_array_equal(run.values["mask_0"], [[1, 0], [1, 1]])
    assert [problem.split(" (")[0] for problem in run.problems] == [f"code cell {n}: cannot be read as Python"
                                                                    for n in (1, 2)]
    assert "RecursionError" in run.problems[0] and "MemoryError" in run.problems[1]


def test_seccomp_denies_namespaces_ptrace_and_mounts_but_fork_still_works(notebook):
    code = '''
import ctypes
import os

def attack():
    libc = ctypes.CDLL(None, use_errno=True)
    def errno_of(result):
        return 0 if result == 0 else ctypes.get_errno()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return {"unshare": errno_of(libc.unshare(0x10000000)), "ptrace": errno_of(libc.ptrace(0, 0, None, None)),
            "mount": errno_of(libc.mount(b"none", b"/sandbox/work", b"tmpfs", 0, None)),
            "fork": os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}
'''
    run = attack(notebook, code)
    assert run.status == "ok", run.reason
    if sandbox.seccomp_available():
        assert run.values["attack"] == {"unshare": 1, "ptrace": 1, "mount": 1, "fork": 7}
