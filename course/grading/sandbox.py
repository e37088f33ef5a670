"""Run a probe on a student's notebook in a separate, locked-down process and bring back plain data.

Student code and hidden tests never share a process: a hidden test calls `run_probe`, which asks the
submission's sandbox (`sandbox_child.py`, started on first use and kept for the submission's other
components) to run each case of `probes.<component>.CASES` and hand back the answers (JSON and
`.npy` bytes, never unpickled), so patching numpy, the test helpers or the traceback printer,
exiting early, or reading the test's frames gains nothing.

Isolation on Linux with `unshare` (as root, or in a user namespace as any user): an allowlist root
(only the interpreter, its standard library, the packages graded code may import, the system
libraries they map and tinytorch, all read-only; the rest of the machine does not exist, the probes
are unmounted before student code runs), no network, PID, IPC and network namespaces and a
size-limited tmpfs work folder per component, no capabilities, an unprivileged uid of its own when
run as root, rlimits, a seccomp filter, a wall clock, a scrubbed environment. One sandbox server per
submission loads Python, numpy and tinytorch once, has the notebook's cells parsed by a confined
child (this process reads the notebook's JSON, never parses its code) and forks a fresh component from
that clean state each time: nothing of one component's run reaches another's. Where `unshare` is not
permitted, only the limits; `ProbeRun.protections` says which were active.

Why not bubblewrap underneath (`bench/sandbox_isolation.py`, CPU per submission, alternately in one run):
bwrap has no fork server, so a sandbox per component costs 2.4 s for twelve components against 0.56 s
here; wrapped around our server it would save under 0.1 s and replace only the first pivot, while every
per-component namespace, the supervisor and the tokens stay ours; and its seccomp is a BPF program we
would write anyway. So the seccomp filter is ours (`sandbox_child.seccomp_program`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from course.grading.sandbox_child import (
    DEFERRED_MODULES,
    TAIL_CHARS,
    Lines,
    array_from_text,
    array_to_text,
    decode,
    describe,
    encode,
    processes_of,
    seccomp_program,
    send,
)
from course.notebook import NotebookError, code_cells

REPO = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).with_name("probes")
TINYTORCH = REPO / "tinytorch"
CHILD = Path(__file__).with_name("sandbox_child.py")
DEFINITIONS = REPO / "course" / "definitions.py"
UNSHARE = ["unshare", "--mount", "--net", "--ipc", "--pid", "--fork", "--kill-child", "--mount-proc"]
HIDE_VARIABLE, LOG_VARIABLE = "COURSE_SANDBOX_HIDE", "COURSE_PROBE_LOG"
PER_COMPONENT_VARIABLE = "COURSE_SANDBOX_PER_COMPONENT"  # set: a fresh server for every probe run (slower)
IMPORTABLE = ("numpy", "tqdm", *DEFERRED_MODULES)  # distributions (and their requirements) graded code may import
KEPT_SESSIONS = 2  # sandbox servers kept alive at once (one per submission being graded)
SETUP_SECONDS = 60  # for the server to start (Python, numpy, tinytorch, the probes)
ANSWER_MB = 4  # the most one case's answer may take (the reference's largest: 0.25 MB, end_to_end)


@dataclass
class Limits:
    """What one probe run may use: wall-clock and CPU seconds, address space, per-file and work-folder MB,
    processes."""

    seconds: float = 60
    memory_mb: int = 2048
    cpu_seconds: int = 120
    file_mb: int = 32
    processes: int = 64
    disk_mb: int = 64


@dataclass
class ProbeRun:
    """What came back from one probe run; `status` is "ok" only when every case ran."""

    component: str
    values: dict[str, Any] = field(default_factory=dict)  # case -> plain data (np.ndarray, numbers, str, ...)
    errors: dict[str, str] = field(default_factory=dict)  # case -> "TypeError: ..." raised in student code
    missing: list[str] = field(default_factory=list)  # cases with no result (timeout, crash, early exit)
    status: str = "ok"  # ok, timeout, cpu limit, memory limit, output limit, exited early, crashed, ...
    reason: str | None = None  # one sentence for the student when status != "ok"
    problems: list[str] = field(default_factory=list)  # loader problems: syntax errors, statements that raised
    protections: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output_tail: str = ""  # the end of what the student's code printed (stdout, then stderr)

    def summary(self) -> dict[str, Any]:
        """Everything except the values, as JSON-ready data (for reports)."""
        data = asdict(self)
        del data["values"]
        return data


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the student's code): grading must not go on silently."""


@functools.cache
def namespace_prefix() -> tuple[str, ...] | None:
    """The `unshare` command line that works here (as root, or in a user namespace), or None."""
    if shutil.which("unshare") is None:
        return None
    prefix = UNSHARE if os.geteuid() == 0 else UNSHARE[:1] + ["--user", "--map-root-user"] + UNSHARE[1:]
    try:
        works = subprocess.run([*prefix, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        works = False
    return tuple(prefix) if works else None


def seccomp_available() -> bool:
    """Whether the sandbox has a seccomp filter for this machine's system call numbers."""
    return seccomp_program(platform.machine()) is not None


def protections_for(limits: Limits, isolated: bool, uid: int | None) -> list[str]:
    active = [
        "separate process: student code never runs in the grading process",
        f"own process group and wall clock: stopped after {limits.seconds:g} s",
        f"rlimits: {limits.cpu_seconds} s CPU, {limits.memory_mb} MB memory, {limits.file_mb} MB per file "
        f"(printing included), {limits.processes} processes",
        "scrubbed environment, one BLAS/OpenMP thread",
        "a fresh process per component, forked from a server that never runs student code",
        "answers only to the question being asked (a fresh token per case): nothing written ahead counts",
        "the notebook's code parsed and transformed only by a child under the same limits",
        "no grader module importable: the probes, the stand-ins a component does not use and the loader "
        "are gone from the process and its path before the notebook's code runs",
    ]
    if seccomp_available():
        active.append("seccomp: no System V IPC, POSIX message queues, memfd or keyrings (nothing outlives a "
                      "component or escapes its memory limit), no ptrace, mount, unshare or setns")
    else:
        active.append(f"NOT active: seccomp (no system call table for {platform.machine()})")
    if isolated:
        active += ["allowlist root: read-only the interpreter, its standard library, numpy, tqdm (and matplotlib, "
                   "loaded on first use), the system libraries they map and tinytorch; "
                   "nothing else of the machine exists (no /dev/shm)",
                   f"work folder: a tmpfs of its own per component, at most {limits.disk_mb} MB",
                   "network namespace: no network; new network and IPC namespaces per component (no abstract "
                   "socket, System V object or message queue of another run; System V shared memory at most "
                   f"{limits.disk_mb} MB)",
                   "PID namespace per component: only its own processes visible",
                   "no capabilities, no new privileges, supervisor not dumpable (its /proc/1/fd closed)"]
    else:
        active += ["NOT active (unshare not permitted here): allowlist root and mount namespace (files, the "
                   "probes' included, readable as the grader's user), network, IPC and PID namespaces, "
                   "dropping capabilities"]
    if uid is not None:
        active.append(f"unprivileged uid {uid} of its own")
    else:
        active.append("NOT active: a separate unprivileged uid (runs as the grader's own user)")
    return active


@functools.cache
def importable_paths() -> tuple[str, ...]:
    """The site-packages entries of IMPORTABLE and of everything they require (installed ones only)."""
    paths, seen, todo = set(), set(), list(IMPORTABLE)
    while todo:
        name = todo.pop()
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = distribution.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        base = Path(distribution.locate_file(""))
        for file in distribution.files or ():
            if file.parts and file.parts[0] not in ("..", "__pycache__"):
                paths.add(str(base / file.parts[0]))
        for requirement in distribution.requires or ():
            if "extra ==" not in requirement:
                todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group())  # "pillow>=8; ..." -> pillow
    return tuple(sorted(path for path in paths if os.path.exists(path)))


def kept_paths() -> list[str]:
    """What the allowlist root shows besides the system libraries: the standard library (with its compiled
    modules) and IMPORTABLE. (Not sysconfig's "platstdlib": in a virtual environment that is the
    environment's own lib folder, every installed package included.)"""
    stdlib = {os.path.dirname(os.__file__), os.path.dirname(importlib.util.find_spec("_json").origin)}
    return sorted({os.path.realpath(path) for path in (*stdlib, *importable_paths())})


def _child_environment() -> dict[str, str]:
    """The server's whole environment (each worker adds HOME, TMPDIR and MPLCONFIGDIR: its work folder)."""
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "TQDM_DISABLE": "1", **threads}


class Session:
    """One sandbox server for one submission's definitions: started once, asked for one component at a time."""

    def __init__(self, cells: list[dict], probes: Path, hidden: list[Path], limits: Limits):
        self.prefix = namespace_prefix()
        self.uid = 200_000 + secrets.randbelow(800_000) if self.prefix and os.geteuid() == 0 else None
        self.lock = threading.Lock()  # one component at a time; held while closing
        self.closed = False
        self.loading_timeout: str | None = None  # set once the definitions alone ran out of time
        self.stage = Path(tempfile.mkdtemp(prefix="sandbox-"))
        lib, grader = self.stage / "lib", self.stage / "grader"  # what graded code sees; what it never does
        lib.mkdir()
        if TINYTORCH.is_dir():  # a probe that needs it and does not find it is a setup failure, reported
            shutil.copytree(TINYTORCH, lib / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(probes, grader / "probes", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(CHILD, grader / "sandbox_child.py")
        shutil.copy(DEFINITIONS, grader / "definitions.py")
        (self.stage / "root").mkdir()
        for folder in (self.stage, lib, grader):
            os.chmod(folder, 0o755)
        prefixes = {sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
        keep = kept_paths()
        hidden_paths = {str(Path(path).resolve()) for path in [REPO, *hidden, Path(tempfile.gettempdir()),
                                                                Path("/tmp"), Path("/home"), Path("/root")]}
        config = {"isolate": self.prefix is not None, "uid": self.uid, "cells": cells,
                  "parse_limits": asdict(limits), "seccomp": seccomp_available(),
                  "ipython": ipython_folder(),
                  "keep": keep, "prefixes": sorted(prefixes), "hidden": sorted(hidden_paths)}
        self.stderr = open(self.stage / "server-stderr.txt", "wb")
        command = [*(self.prefix or ()), sys.executable, "-I", "-u", str(grader / "sandbox_child.py"),
                   str(self.stage)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        cwd=self.stage, env=_child_environment(), start_new_session=True)
        self.lines = Lines(self.process.stdout.fileno(), 1 << 31)
        send(self.process.stdin.fileno(), config)
        ready = self._receive(SETUP_SECONDS + limits.seconds)  # the set-up, then the parse of the cells
        if "setup_error" in ready or not ready.get("ready"):
            self.close()
            raise SandboxError(f"the grading sandbox could not be set up: {ready.get('setup_error', ready)}")
        self.cases: dict[str, list[str]] = ready["cases"]  # component -> its probe's case names, in order
        self.problems: list[str] = ready["problems"]  # of parsing the cells (syntax errors, magics, ...)
        self.definitions_error: str | None = ready["definitions_error"]  # the parse itself failed

    def _receive(self, seconds: float) -> dict:
        """The server's next line; SandboxError when it ends or stays silent (it runs no student code)."""
        deadline = time.monotonic() + seconds
        while (line := self.lines.pop()) is None:
            remaining = deadline - time.monotonic()
            if self.lines.eof or remaining <= 0 or not select.select([self.lines.fd], [], [], remaining)[0]:
                tail = (self.stage / "server-stderr.txt").read_bytes()[-TAIL_CHARS:].decode("utf-8", "replace")
                self.close()
                raise SandboxError(f"the grading sandbox stopped answering; it said: {tail.strip() or 'nothing'}")
            self.lines.fill()
        return json.loads(line)

    def run(self, component: str, request: dict[str, Any], limits: Limits) -> dict:
        job = {"component": component, "request": encode(request, array_to_text), "limits": asdict(limits)}
        send(self.process.stdin.fileno(), job)
        return self._receive(limits.seconds + SETUP_SECONDS)

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process.stdout.close()
        self.stderr.close()
        if self.uid is not None:
            leftovers = processes_of(self.uid)  # none: each component ended with its PID namespace
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.stage, ignore_errors=True)


_SESSIONS: dict[tuple, Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(key: tuple, cells: list[dict], probes: Path, hidden: list[Path], limits: Limits) -> Session:
    """The running server for `key` (notebook, probes, hidden folders, isolation), started if needed."""
    with _SESSIONS_LOCK:
        session = _SESSIONS.pop(key, None)
        if session is not None and session.process.poll() is not None:
            session.close()  # it ended (it cannot be made to by student code): start afresh
            session = None
        if session is None:
            session = Session(cells, probes, hidden, limits)
        _SESSIONS[key] = session  # most recent last
        while len(_SESSIONS) > KEPT_SESSIONS:
            oldest = next(iter(_SESSIONS))
            with _SESSIONS[oldest].lock:
                _SESSIONS.pop(oldest).close()
        return session


@atexit.register
def close_sessions() -> None:
    """End every sandbox server (the grading process is done with its submissions)."""
    with _SESSIONS_LOCK:
        while _SESSIONS:
            _SESSIONS.popitem()[1].close()


def _status(reply: dict, done: bool, limits: Limits) -> tuple[str, str | None]:
    """The run's status and one sentence for the student."""
    end = reply.get("end", {})
    if reply["timed_out"]:
        return "timeout", (f"stopped after {limits.seconds:g} s: the code did not finish in time "
                           "(an endless loop, or far too slow)")
    if "exit_code" not in end:
        return "crashed", "the sandbox ended without saying how (its supervisor was killed)"
    code = end["exit_code"]
    if done and code == 0:
        return "ok", None
    out_of_cpu = code == -signal.SIGKILL and end["cpu_seconds"] >= limits.cpu_seconds - 1
    if code == -signal.SIGXCPU or out_of_cpu:
        return "cpu limit", f"stopped after using the {limits.cpu_seconds} s CPU-time limit"
    if "MemoryError" in end.get("stderr_tail", ""):
        return "memory limit", f"ran out of memory (limit {limits.memory_mb} MB)"
    if code < 0:
        return "crashed", f"the process crashed ({signal.Signals(-code).name}) before all checks ran"
    return "exited early", (f"the code ended the process (exit status {code}) before all checks ran; "
                            "calling exit() or os._exit() never counts as passing")


def run_probe(notebook: Path, component: str, request: dict[str, Any], limits: Limits | None = None,
              *, probes: Path = PROBES, hide: tuple[Path, ...] = ()) -> ProbeRun:
    """Run `probes.<component>.CASES` on the definitions of `notebook` in the sandbox.

    `request`: plain data (NumPy arrays, numbers, strings, lists and dicts of those) handed to every
    case. `probes`: the folder copied as the package `probes` (tests pass their own). `hide`: folders
    the sandbox must prove invisible (the repository, temp folders and homes always are), e.g. the
    course folder; the environment variable COURSE_SANDBOX_HIDE (folders separated by os.pathsep)
    adds more. When COURSE_PROBE_LOG names a file, the run's summary (no values) is appended to it.
    """
    extra = [Path(folder) for folder in os.environ.get(HIDE_VARIABLE, "").split(os.pathsep) if folder]
    if any(Path(folder).resolve() == Path("/") for folder in (*hide, *extra)):
        raise ValueError("cannot hide / from the sandbox; expected folders such as the course folder")
    run = _run_probe(Path(notebook), component, request, limits or Limits(), Path(probes), [*hide, *extra])
    if log := os.environ.get(LOG_VARIABLE):
        with open(log, "a", encoding="utf-8") as file:
            file.write(json.dumps(run.summary()) + "\n")
    return run


@functools.cache
def ipython_folder() -> str | None:
    """IPython's package folder (the sandbox loads its input transformer from there), None without IPython."""
    spec = importlib.util.find_spec("IPython")  # a top-level package: found without importing it
    return None if spec is None else os.path.dirname(spec.origin)


@functools.lru_cache(maxsize=8)
def _cells(notebook: str, modified_ns: int, size: int) -> list[dict]:
    """The notebook's code cells as data, read once per version of the file (twelve components ask)."""
    return code_cells(Path(notebook))


def _run_probe(notebook: Path, component: str, request: dict[str, Any], limits: Limits, probes: Path,
               hide: list[Path]) -> ProbeRun:
    if not (probes / f"{component}.py").is_file():
        known = sorted(path.stem for path in probes.glob("*.py") if not path.stem.startswith("_"))
        raise ValueError(f"no probe module {component}.py in {probes}; expected one of {known}")
    run = ProbeRun(component)
    try:
        info = notebook.stat()
        cells = _cells(str(notebook.resolve()), info.st_mtime_ns, info.st_size)
    except (OSError, NotebookError) as error:
        run.protections = protections_for(limits, namespace_prefix() is not None, None)
        run.status, run.reason = "unreadable notebook", str(error)
        return run
    key = (str(notebook.resolve()), info.st_mtime_ns, info.st_size, str(probes.resolve()),
           tuple(sorted(map(str, hide))), namespace_prefix())
    while True:
        session = _session(key, cells, probes, hide, limits)
        session.lock.acquire()
        if not session.closed:  # else another thread's submission evicted it meanwhile: start it again
            break
        session.lock.release()
    started = time.monotonic()  # the run itself, not the server's start (once per submission)
    run.protections = protections_for(limits, session.prefix is not None, session.uid)
    try:
        if session.loading_timeout is not None:  # marked once: the definitions alone never finish
            reply = {"timed_out": True, "cases": {}}
        else:
            reply = session.run(component, request, limits)
            if reply.get("timed_out") and "loaded" not in reply:
                session.loading_timeout = component
    finally:
        session.lock.release()
    if os.environ.get(PER_COMPONENT_VARIABLE):  # the old way, for bench/grading.py's baseline
        with _SESSIONS_LOCK:
            _SESSIONS.pop(key, None)
        with session.lock:
            session.close()
    if "setup_error" in reply:
        raise SandboxError(f"the grading sandbox could not be set up: {reply['setup_error']}")
    run.problems = list(session.problems)
    if session.definitions_error is not None:
        run.missing = list(session.cases[component])
        run.status, run.reason = "unreadable notebook", session.definitions_error
        run.seconds = time.monotonic() - started
        return run
    end = reply.get("end", {})
    if reply.get("end") and not end.get("ready"):
        raise SandboxError("the grading sandbox could not set the limits and drop privileges; it said: "
                           f"{end.get('stderr_tail', '').strip()[-500:] or 'nothing'}")
    run.output_tail = end.get("output_tail", "")
    run.problems += reply.get("loaded") or []
    for case in session.cases[component]:
        if case not in reply["cases"]:
            run.missing.append(case)
            continue
        if len(reply["cases"][case]) > ANSWER_MB << 20:  # never read: it would swell every report and feedback
            run.errors[case] = f"the result could not be read back (over {ANSWER_MB} MB, the most an answer may be)"
            continue
        try:
            record = json.loads(reply["cases"][case])
            if not isinstance(record, dict) or not ({"value"} <= set(record) or "error" in record):
                raise ValueError("not an answer")
        except (ValueError, RecursionError) as error:
            run.errors[case] = f"the result could not be read back ({describe(error)})"
            continue
        if "error" in record:
            run.errors[case] = str(record["error"])[:1000]
            continue
        try:
            run.values[case] = decode(record["value"], array_from_text)
        except (ValueError, TypeError, RecursionError) as error:
            run.errors[case] = f"the result could not be read back ({describe(error)})"
    run.status, run.reason = _status(reply, not run.missing, limits)
    if run.status == "timeout" and "loaded" not in reply:
        first = session.loading_timeout
        run.reason = (f"stopped after {limits.seconds:g} s while loading your notebook's definitions, before any "
                      "check ran (an endless loop or a long computation at the top level?); "
                      + ("this component was not run again" if first != component else
                         "checked once: the other components are marked the same without running"))
    elif run.status == "ok" and run.missing:
        run.status, run.reason = "exited early", "some checks did not run"
    run.seconds = time.monotonic() - started
    return run
