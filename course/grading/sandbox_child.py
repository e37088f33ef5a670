"""The child side of the sandbox: the only code that runs next to a student's definitions.

`course.grading.sandbox.run_probe` copies this file into a fresh work directory and starts it as
`python -I -u sandbox_child.py WORKDIR REPORT_FD`, inside new mount, network and PID namespaces where
`unshare` is permitted. Two processes:

- the supervisor (PID 1 of the namespace) reads the run's nonce from stdin (not argv or the
  environment, which other processes can read), hides the repository, the course folder, home and
  temp folders behind empty tmpfs mounts, binding back read-only only what Python needs, forks the
  worker, and writes how the worker ended (exit status, CPU seconds) to the report pipe;
- the worker sets rlimits, drops to the run's own unprivileged uid, imports `probes.<component>`
  (trusted), closes the report pipe, executes the notebook's definitions one statement at a time
  into a fresh module (a statement that raises is a problem, not a crash), and runs each case
  `CASES[name](namespace, request)`, writing its result to `results/` at once.

Results are JSON files stamped with the nonce; arrays go to `.npy` files (never pickled). Nothing
here trusts the student: it only has to be correct for an honest submission, since every check
runs in the parent on what comes back. Only the standard library is imported at the top, so that
the parent reuses `encode` and `decode`.
"""

from __future__ import annotations

import ast
import ctypes
import errno
import importlib
import json
import math
import os
import resource
import signal
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ARRAY_KEY = "__ndarray__"
SETUP_FAILED = 120  # exit status: the sandbox itself could not be set up (not the student's fault)
MAX_ERROR_CHARS = 500
DEFERRED_MODULES = ("matplotlib",)

MS_NOSUID, MS_NODEV, MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC = 2, 4, 1, 32, 4096, 16384
PR_SET_NO_NEW_PRIVS = 38


def encode(value: Any, save_array: Callable[[Any], str]) -> Any:
    """Plain data as JSON-ready data; each NumPy array is replaced by {ARRAY_KEY: save_array(array)}."""
    import numpy as np

    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        return encode(value.item(), save_array)
    if isinstance(value, np.ndarray):
        return {ARRAY_KEY: save_array(np.asarray(value))}
    if type(value) in (list, tuple):
        return [encode(item, save_array) for item in value]
    if type(value) is dict and all(type(key) is str and key != ARRAY_KEY for key in value):
        return {key: encode(item, save_array) for key, item in value.items()}
    raise TypeError(f"cannot send back a {type(value).__name__}; expected NumPy arrays, numbers, "
                    f"bools, strings, None, and lists or dicts (str keys) of those")


def decode(data: Any, load_array: Callable[[str], Any]) -> Any:
    """The inverse of `encode`."""
    if isinstance(data, list):
        return [decode(item, load_array) for item in data]
    if isinstance(data, dict):
        if set(data) == {ARRAY_KEY}:
            return load_array(data[ARRAY_KEY])
        return {key: decode(item, load_array) for key, item in data.items()}
    return data


def describe(error: BaseException) -> str:
    """'TypeError: message', shortened; robust to exceptions whose str() itself fails."""
    try:
        message = str(error)
    except Exception:
        message = "(the exception's message could not be read)"
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


class ResultWriter:
    """Writes nonce-stamped JSON records (atomically) and arrays into the results folder."""

    def __init__(self, folder: Path, nonce: str):
        self.folder, self.nonce, self.pid = folder, nonce, os.getpid()

    def write(self, name: str, record: dict) -> None:
        if os.getpid() != self.pid:  # a copy forked by student code has nothing to report
            os._exit(0)
        partial = self.folder / f"{name}.partial"
        partial.write_text(json.dumps({"nonce": self.nonce, **record}))
        os.replace(partial, self.folder / f"{name}.json")

    def array_saver(self, index: int) -> Callable[[Any], str]:
        import numpy as np

        count = iter(range(10**9))

        def save(array) -> str:
            name = f"{self.nonce}-{index}-{next(count)}.npy"
            np.save(self.folder / name, array, allow_pickle=False)
            return name

        return save


def _libc_call(name: str, *args) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}{args[:2]}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, options: str | None = None) -> None:
    def encoded(text):
        return None if text is None else text.encode()

    _libc_call("mount", encoded(source), encoded(target), encoded(fstype), ctypes.c_ulong(flags), encoded(options))


def _is_within(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def hide_paths(hide: list[str], keep: list[str], writable: str) -> None:
    """Cover each `hide` folder with an empty tmpfs, then bind back each `keep` folder inside one.

    `keep` folders are read-only afterwards, except `writable` (the work directory).
    """
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep}  # reachable once hidden
    for path in sorted(hide, key=len):  # parents first; a child of a hidden folder is then gone
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path, handle in handles.items():
        if any(_is_within(path, hidden) for hidden in hide):
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            if path != writable:
                _mount("none", path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(handle)


def processes_of(uid: int) -> list[int]:
    """The ids of the processes running as `uid`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                found.append(int(entry))
        except OSError:  # the process ended while we looked
            continue
    return found


def set_limits(limits: dict, own_uid: bool) -> None:
    """Hard rlimits, so that student code cannot raise them again."""
    megabyte = 1024 * 1024
    processes = limits["processes"] if own_uid else limits["processes"] + len(processes_of(os.getuid()))
    for kind, value in ((resource.RLIMIT_AS, limits["memory_mb"] * megabyte),
                        (resource.RLIMIT_FSIZE, limits["file_mb"] * megabyte),
                        (resource.RLIMIT_NPROC, processes),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(kind, (value, value))
    # The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _libc_call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid programs gain nothing either


class DeferredImport:
    """Stands for a name bound by a slow import statement (matplotlib: a second of CPU per run, and
    graded code does not plot) until the name is first used; then the statement runs and rebinds it."""

    def __init__(self, statement: str, name: str, namespace: dict):
        self._statement, self._name, self._namespace = statement, name, namespace

    def _resolve(self):
        exec(compile(self._statement, "<notebook>", "exec"), self._namespace)
        return self._namespace[self._name]

    def __getattr__(self, attribute: str):
        return getattr(self._resolve(), attribute)

    def __call__(self, *args, **kwargs):
        return self._resolve()(*args, **kwargs)


def deferred_names(statement: str) -> list[str]:
    """The names an import of DEFERRED_MODULES binds ([] for any other statement)."""
    node = ast.parse(statement).body[0]
    if isinstance(node, ast.Import) and all(a.name.split(".")[0] in DEFERRED_MODULES for a in node.names):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in DEFERRED_MODULES
            and all(a.name != "*" for a in node.names)):
        return [a.asname or a.name for a in node.names]
    return []


def load_definitions(statements: list[str]) -> tuple[dict, list[str]]:
    """Execute the statements one by one into a fresh module; returns its namespace and the problems."""
    module = types.ModuleType("submission")
    sys.modules["submission"] = module  # dataclasses and friends look their module up here
    problems = []
    for statement in statements:
        try:
            names = deferred_names(statement)
            for name in names:
                module.__dict__[name] = DeferredImport(statement, name, module.__dict__)
            if not names:
                exec(compile(statement, "<notebook>", "exec"), module.__dict__)
        except BaseException as error:  # student code: SystemExit included, any failure is a finding
            problems.append(f"`{statement.splitlines()[0]}` raised {describe(error)}")
    return module.__dict__, problems


def explain(error: BaseException, limits: dict) -> str:
    """`describe`, naming the limit when the error comes from one."""
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return f"output limit: printed or wrote more than {limits['file_mb']} MB ({describe(error)})"
    if isinstance(error, MemoryError):
        return f"memory limit of {limits['memory_mb']} MB: {describe(error)}"
    return describe(error)


def work(folder: Path, nonce: str, config: dict, report: int) -> None:
    """The worker: limits, own uid, the probe, then the student's definitions and the cases."""
    try:
        set_limits(config["limits"], own_uid=config["uid"] is not None)
        if config["uid"] is not None:
            drop_privileges(config["uid"])
        os.chdir(folder)
        sys.path.insert(0, str(folder))
        probe = importlib.import_module(f"probes.{config['component']}")
        cases = dict(probe.CASES)
        import numpy as np
    except Exception as error:
        os.write(report, json.dumps({"setup_error": f"worker: {describe(error)}"}).encode() + b"\n")
        os._exit(SETUP_FAILED)
    os.close(report)  # from here on student code runs: only the supervisor can report

    writer = ResultWriter(folder / "results", nonce)
    writer.write("plan", {"cases": list(cases)})
    request = decode(json.loads((folder / "request.json").read_text()),
                     lambda name: np.load(folder / "request" / name, allow_pickle=False))
    namespace, problems = load_definitions(json.loads((folder / "statements.json").read_text()))
    writer.write("problems", {"problems": problems})
    for index, (name, case) in enumerate(cases.items()):
        try:
            record = {"value": encode(case(namespace, request), writer.array_saver(index))}
        except BaseException as error:  # SystemExit from student code fails this case only
            record = {"error": explain(error, config["limits"])}
        writer.write(f"case-{index:04d}", {"case": name, **record})
    writer.write("done", {})


def supervise(folder: Path, nonce: str, report: int) -> None:
    """PID 1 of the sandbox: hide the repository, run the worker, report how it ended on `report`.

    No student code runs here, and in a PID namespace nothing inside can signal this process, so
    the report (exit status, signal, CPU seconds) is trustworthy.
    """
    config = json.loads((folder / "config.json").read_text())
    try:
        if config["isolate"]:
            hide_paths(config["hide"], config["keep"], str(folder))
    except OSError as error:
        os.write(report, json.dumps({"setup_error": f"supervisor: {describe(error)}"}).encode() + b"\n")
        sys.exit(SETUP_FAILED)
    worker = os.fork()
    if worker == 0:
        try:
            work(folder, nonce, config, report)
        except BaseException:  # the student broke the worker itself (say, patched json): show how
            traceback.print_exc()
            os._exit(1)
        os._exit(0)  # skip interpreter shutdown: student objects' __del__ cannot change anything now
    # A backstop should the grading process die without killing us: end the whole group a while after
    # its own deadline (a handler is needed: PID 1 of a namespace ignores default-action signals).
    signal.signal(signal.SIGALRM, lambda *_: os.killpg(0, signal.SIGKILL))
    signal.alarm(math.ceil(config["limits"]["seconds"]) + 30)
    _, status, usage = os.wait4(worker, 0)
    ending = {"exit_code": os.waitstatus_to_exitcode(status), "cpu_seconds": usage.ru_utime + usage.ru_stime}
    os.write(report, json.dumps(ending).encode() + b"\n")


if __name__ == "__main__":
    supervise(Path(sys.argv[1]), sys.stdin.readline().strip(), int(sys.argv[2]))
