"""Run a probe on a student's notebook in a separate, locked-down process and bring back plain data.

Student code and hidden tests never share a process: a hidden test calls `run_probe`, which starts
`sandbox_child.py` in a fresh temporary directory holding only the notebook's definitions, a copy of
`tinytorch`, the probes (as the package `probes`) and the request. The child runs each case of
`probes.<component>.CASES` and writes each result to disk at once; this side reads them back
(JSON and `.npy` only, stamped with a per-run nonce, never unpickled), so patching numpy, the test
helpers or the traceback printer, exiting early, or reading the test's frames gains nothing.

Isolation on Linux with `unshare`: new mount namespace (repository, course folder, home and temp
folders hidden behind empty tmpfs mounts), new network and PID namespaces, a uid of its own (when
run as root), rlimits, a process group killed as a whole on timeout, a scrubbed environment.
Where `unshare` is not permitted, only the last three; `ProbeRun.protections` says which were active.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from course.grading.sandbox_child import decode, describe, encode, processes_of
from course.notebook import NotebookError, extract_definitions

REPO = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).with_name("probes")
TINYTORCH = REPO / "tinytorch"
CHILD = Path(__file__).with_name("sandbox_child.py")
UNSHARE = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
TAIL_CHARS = 2000
HIDE_VARIABLE, LOG_VARIABLE = "COURSE_SANDBOX_HIDE", "COURSE_PROBE_LOG"


@dataclass
class Limits:
    """What one probe run may use: wall-clock and CPU seconds, address space and per-file MB, processes."""

    seconds: float = 60
    memory_mb: int = 2048
    cpu_seconds: int = 120
    file_mb: int = 32
    processes: int = 64


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


def protections_for(limits: Limits, isolated: bool, uid: int | None) -> list[str]:
    active = [
        "separate process: student code never runs in the grading process",
        f"own session and process group, killed as a whole after {limits.seconds:g} s",
        f"rlimits: {limits.cpu_seconds} s CPU, {limits.memory_mb} MB memory, {limits.file_mb} MB per file "
        f"(printing included), {limits.processes} processes",
        "scrubbed environment, one BLAS/OpenMP thread",
        "fresh temporary directory with only the definitions, tinytorch, the probes and the request",
    ]
    if isolated:
        active += ["mount namespace: repository, course folder, home and temp folders hidden (empty tmpfs)",
                   "network namespace: no network", "PID namespace: no other process visible"]
    else:
        active += ["NOT active (unshare not permitted here): mount namespace (files readable as the "
                   "grader's user), network namespace, PID namespace"]
    if uid is not None:
        active.append(f"unprivileged uid {uid} of its own, no new privileges")
    else:
        active.append("NOT active: a separate unprivileged uid (runs as the grader's own user)")
    return active


def _child_environment(work: Path) -> dict[str, str]:
    scratch = str(work / "scratch")
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": scratch, "TMPDIR": scratch,
            "MPLCONFIGDIR": scratch, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1", **threads}


def _stage(work: Path, statements: list[str], request: dict[str, Any], probes: Path, config: dict) -> None:
    """Fill the work directory with what the child needs and nothing else."""
    if TINYTORCH.is_dir():  # a probe that needs it and does not find it is a setup failure, reported
        shutil.copytree(TINYTORCH, work / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(probes, work / "probes", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CHILD, work / "sandbox_child.py")
    (work / "request").mkdir()
    saved = iter(range(10**9))

    def save(array) -> str:
        import numpy as np

        name = f"{next(saved)}.npy"
        np.save(work / "request" / name, array, allow_pickle=False)
        return name

    (work / "request.json").write_text(json.dumps(encode(request, save)))
    (work / "statements.json").write_text(json.dumps(statements))
    (work / "config.json").write_text(json.dumps(config))
    for folder in ("results", "scratch"):
        (work / folder).mkdir(mode=0o700)
        if config["uid"] is not None:
            os.chown(work / folder, config["uid"], config["uid"])
    os.chmod(work, 0o755)


def _read_own_file(path: Path, max_bytes: int, tail: bool = False) -> bytes:
    """A regular file's bytes (the last `max_bytes` if `tail`); refuses symlinks, which the child could
    point at a hidden test, and FIFOs, which would block this process."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or (info.st_size > max_bytes and not tail):
            raise ValueError(f"{path.name}: not a regular file of at most {max_bytes} bytes")
        file.seek(max(0, info.st_size - max_bytes))
        return file.read(max_bytes)


class _Results:
    """Reads the child's records, accepting only those stamped with this run's nonce."""

    def __init__(self, folder: Path, nonce: str, max_bytes: int):
        self.folder, self.nonce, self.max_bytes = folder, nonce, max_bytes

    def record(self, name: str) -> dict | None:
        try:
            data = json.loads(_read_own_file(self.folder / f"{name}.json", self.max_bytes))
        except (OSError, ValueError, RecursionError):  # absent, planted or absurdly nested
            return None
        return data if isinstance(data, dict) and data.get("nonce") == self.nonce else None

    def strings(self, name: str, key: str) -> list[str]:
        """The list of strings under `key` in a record ([] when absent or malformed)."""
        items = (self.record(name) or {}).get(key)
        return [item for item in items if isinstance(item, str)] if isinstance(items, list) else []

    def load_array(self, index: int):
        import io

        import numpy as np

        pattern = re.compile(rf"{self.nonce}-{index}-\d+\.npy")

        def load(name: str):
            if not isinstance(name, str) or not pattern.fullmatch(name):
                raise ValueError(f"array file {name!r} does not belong to this run")
            return np.load(io.BytesIO(_read_own_file(self.folder / name, self.max_bytes)), allow_pickle=False)

        return load


def _kill_leftovers(group: int, uid: int | None) -> None:
    """SIGKILL the run's process group and, until none is left, every process running as the run's uid."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    for _ in range(250):  # a fork bomb's last children may take a moment to die
        leftovers = processes_of(uid) if uid is not None else []
        if not leftovers:
            return
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    raise SandboxError(f"processes of the sandbox uid {uid} survived SIGKILL for 5 s: {leftovers[:10]}")


def _tail(path: Path) -> str:
    try:
        return _read_own_file(path, TAIL_CHARS, tail=True).decode("utf-8", "replace")
    except (OSError, ValueError) as error:
        return f"(output unreadable: {describe(error)})"


def _read_report(pipe: int) -> dict:
    """The supervisor's JSON lines merged into one dict ({} when it never reported)."""
    chunks = []
    while chunk := os.read(pipe, 65536):
        chunks.append(chunk)
    report = {}
    for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
        try:
            report.update(json.loads(line))
        except json.JSONDecodeError:
            continue
    return report


def _status(report: dict, timed_out: bool, done: bool, stderr: str, limits: Limits) -> tuple[str, str | None]:
    """The run's status and one sentence for the student."""
    if timed_out:
        return "timeout", (f"stopped after {limits.seconds:g} s: the code did not finish in time "
                           "(an endless loop, or far too slow)")
    if "setup_error" in report:
        raise SandboxError(f"the grading sandbox could not be set up: {report['setup_error']}")
    if "exit_code" not in report:
        return "crashed", "the sandbox ended without saying how (its supervisor was killed)"
    code = report["exit_code"]
    if done and code == 0:
        return "ok", None
    out_of_cpu = code == -signal.SIGKILL and report["cpu_seconds"] >= limits.cpu_seconds - 1
    if code == -signal.SIGXCPU or out_of_cpu:
        return "cpu limit", f"stopped after using the {limits.cpu_seconds} s CPU-time limit"
    if "MemoryError" in stderr:
        return "memory limit", f"ran out of memory (limit {limits.memory_mb} MB)"
    if code < 0:
        return "crashed", f"the process crashed ({signal.Signals(-code).name}) before all checks ran"
    return "exited early", (f"the code ended the process (exit status {code}) before all checks ran; "
                            "calling exit() or os._exit() never counts as passing")


def run_probe(notebook: Path, component: str, request: dict[str, Any], limits: Limits | None = None,
              *, probes: Path = PROBES, hide: tuple[Path, ...] = ()) -> ProbeRun:
    """Run `probes.<component>.CASES` on the definitions of `notebook` in the sandbox.

    `request`: plain data (NumPy arrays, numbers, strings, lists and dicts of those) handed to every
    case. `probes`: the folder copied as the package `probes` (tests pass their own). `hide`: more
    folders to make invisible, e.g. the course folder holding other students' submissions; the
    environment variable COURSE_SANDBOX_HIDE (folders separated by os.pathsep) adds more. When
    COURSE_PROBE_LOG names a file, the run's summary (no values) is appended to it as a JSON line.
    """
    extra = [Path(folder) for folder in os.environ.get(HIDE_VARIABLE, "").split(os.pathsep) if folder]
    if any(Path(folder).resolve() == Path("/") for folder in (*hide, *extra)):
        raise ValueError("cannot hide / from the sandbox; expected folders such as the course folder")
    run = _run_probe(Path(notebook), component, request, limits or Limits(), Path(probes), (*hide, *extra))
    if log := os.environ.get(LOG_VARIABLE):
        with open(log, "a", encoding="utf-8") as file:
            file.write(json.dumps(run.summary()) + "\n")
    return run


def _run_probe(notebook: Path, component: str, request: dict[str, Any], limits: Limits, probes: Path,
               hide: tuple[Path, ...]) -> ProbeRun:
    if not (probes / f"{component}.py").is_file():
        known = sorted(path.stem for path in probes.glob("*.py") if not path.stem.startswith("_"))
        raise ValueError(f"no probe module {component}.py in {probes}; expected one of {known}")
    started = time.monotonic()
    prefix = namespace_prefix()
    uid = 200_000 + secrets.randbelow(800_000) if prefix and os.geteuid() == 0 else None
    run = ProbeRun(component, protections=protections_for(limits, prefix is not None, uid))
    try:
        definitions = extract_definitions(notebook)
    except NotebookError as error:
        run.status, run.reason = "unreadable notebook", str(error)
        return run
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="sandbox-") as temporary:
        work = Path(temporary)
        hidden = [REPO, notebook.resolve().parent, *hide, Path(tempfile.gettempdir()),
                  Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/home"), Path("/root")]
        kept = [work, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
        config = {"component": component, "isolate": prefix is not None, "uid": uid, "limits": asdict(limits),
                  "hide": sorted({str(Path(path).resolve()) for path in hidden}),
                  "keep": sorted({str(Path(path).resolve()) for path in kept})}
        _stage(work, definitions.statements, request, probes, config)
        report_read, report_write = os.pipe()
        command = [*(prefix or ()), sys.executable, "-I", "-u", str(work / "sandbox_child.py"), str(work),
                   str(report_write)]
        with open(work / "stdout.txt", "wb") as stdout, open(work / "stderr.txt", "wb") as stderr:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, cwd=work,
                                       env=_child_environment(work), start_new_session=True,
                                       pass_fds=(report_write,))
            os.close(report_write)
            process.stdin.write(f"{nonce}\n".encode())
            process.stdin.close()
            try:
                process.wait(timeout=limits.seconds)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_leftovers(process.pid, uid)
                process.wait()
            report = _read_report(report_read)
            os.close(report_read)
        err_tail = _tail(work / "stderr.txt")
        run.output_tail = (_tail(work / "stdout.txt") + err_tail)[-TAIL_CHARS:]
        results = _Results(work / "results", nonce, limits.file_mb * 1024 * 1024)
        cases = results.strings("plan", "cases")
        run.problems = [*definitions.problems, *results.strings("problems", "problems")]
        for index, case in enumerate(cases):
            record = results.record(f"case-{index:04d}")
            if record is None or record.get("case") != case:
                run.missing.append(case)
            elif "error" in record:
                run.errors[case] = str(record["error"])
            else:
                try:
                    run.values[case] = decode(record.get("value"), results.load_array(index))
                except (OSError, ValueError, RecursionError) as error:
                    run.errors[case] = f"the result could not be read back ({describe(error)})"
        run.status, run.reason = _status(report, timed_out, results.record("done") is not None, err_tail, limits)
        if run.status == "ok" and run.missing:
            run.status, run.reason = "exited early", "some checks did not run"
    run.seconds = time.monotonic() - started
    return run
