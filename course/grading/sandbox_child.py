"""The sandbox's side of a probe run: the only code that runs next to a student's definitions.

`course.grading.sandbox` starts this file once per submission, inside new user (when not root),
mount, network and PID namespaces, as `python -I -u sandbox_child.py STAGE`, and talks to it in JSON
lines over stdin/stdout. Four kinds of process, only the last one ever runs student code:

- the server (PID 1 of the sandbox) imports numpy and every module of tinytorch once (never a
  probe), builds the allowlist root (a tmpfs holding, read-only, exactly the interpreter, its standard
  library, the packages the child may import, the system libraries they map and tinytorch at
  ROOT_LIB, plus a few devices; the probes and this file at ROOT_GRADER) and `pivot_root`s into it;
  the machine's own file system is then gone. It has the notebook's code cells parsed and
  IPython-transformed by a limited child of its own (`course/definitions.py`: student text never
  reaches the grading process's parser). For each component it forks a runner and relays what the
  runner's supervisor reports, within the wall clock limit (on timeout it kills the runner's group
  and with it the component's PID namespace);
- the runner moves into a new PID namespace and forks the supervisor (its PID 1);
- the supervisor moves into new mount, IPC and network namespaces, mounts a fresh /proc (only the
  component's own processes) and a size-limited tmpfs as the work folder, imports the component's
  probe, keeps of the stand-ins only those that probe uses, unmounts ROOT_GRADER (nothing of the
  grader is left to import, list or read), makes itself non-dumpable (its /proc/1/fd cannot be opened
  from inside), forks the worker and then asks it for one case at a time, each with a fresh random
  token: a reply counts only if it carries the token of the case being asked, so nothing written
  before the question (at definition time, into any file or descriptor) is ever taken for a result;
- the worker sets the rlimits, gives up every capability (and, as root, switches to an unprivileged
  uid of its own), installs a seccomp filter (no kernel objects that outlive it or escape its limits:
  System V IPC, POSIX message queues, memfd, keyrings; no ptrace, mounts or namespaces), forgets the
  grader's modules, says so, then executes the definitions one statement at a time and answers.

Records the student could write are only the worker's answers, and only for the case being asked;
exit status, CPU time, output tails and the list of cases come from the supervisor. Arrays travel as
`.npy` bytes (never pickled). Only the standard library is imported at the top, so that the
grading process reuses `encode`, `decode`, `describe` and `processes_of`.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import ctypes
import errno
import fcntl
import functools
import gc
import importlib
import importlib.util
import io
import json
import linecache
import os
import pkgutil
import platform
import resource
import secrets
import select
import signal
import struct
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ARRAY_KEY = "__ndarray__"
MAX_ERROR_CHARS = 500
TAIL_CHARS = 2000
DEFERRED_MODULES = ("matplotlib",)
ROOT_WORK = "/sandbox/work"  # the component's work folder inside the allowlist root
ROOT_LIB = "/sandbox/lib"  # tinytorch, read-only
ROOT_GRADER = "/sandbox/grader"  # the probes, course/definitions.py and this file: unmounted before student code
DEFINITIONS_MODULE = "course_definitions"  # course/definitions.py, loaded from the stage by its file
PROBE_PACKAGE = "probes"
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_PRIVATE = 1024, 2048, 1 << 21, 1 << 18
ST_TO_MS = {2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME, 4096: MS_RELATIME}
CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWNET, MNT_DETACH = 0x20000, 0x20000000, 0x8000000, 0x40000000, 2
CLONE_NEWUTS, CLONE_NEWUSER, CLONE_NEWCGROUP = 0x4000000, 0x10000000, 0x2000000
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_CHILD_SUBREAPER = 4, 24, 28, 36
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 47, 22, 2
SECURE_NOROOT_ALL = 0xEF  # NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE (locked), KEEP_CAPS locked off
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}


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


def array_to_text(array) -> str:
    """An array as base64 `.npy` bytes (no pickle)."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def array_from_text(text: str):
    import numpy as np

    if not isinstance(text, str):
        raise ValueError(f"an array must come as base64 .npy text, got {type(text).__name__}")
    return np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)


def describe(error: BaseException) -> str:
    """'TypeError: message', shortened; robust to exceptions whose str() itself fails."""
    try:
        message = str(error)
    except Exception:
        message = "(the exception's message could not be read)"
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


def processes_of(uid: int) -> list[int]:
    """The ids of the processes running as `uid` (in the /proc this process sees)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                found.append(int(entry))
        except OSError:  # the process ended while we looked
            continue
    return found


# --- Lines over pipes ---------------------------------------------------------------------------

def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send(fd: int, message: dict) -> None:
    write_all(fd, json.dumps(message).encode() + b"\n")


class Lines:
    """Reads newline-ended lines from a descriptor; a line longer than `max_bytes` is cut (and flagged)."""

    def __init__(self, fd: int, max_bytes: int):
        self.fd, self.max_bytes, self.buffer, self.eof, self.dropped = fd, max_bytes, bytearray(), False, 0
        self.skipping = False  # inside an overlong line: drop until its end

    def pop(self) -> bytes | None:
        """The next complete line already read (without its newline), or None."""
        while (end := self.buffer.find(b"\n")) >= 0:
            line, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 1:]
            if not self.skipping:
                return line
            self.skipping = False
            self.dropped += len(line)
        if len(self.buffer) > self.max_bytes:
            self.dropped += len(self.buffer)
            self.buffer.clear()
            self.skipping = True
        return None

    def fill(self) -> None:
        """One read() of what is available (blocks when nothing is)."""
        chunk = os.read(self.fd, 1 << 16)
        self.eof = not chunk
        self.buffer += chunk

    def next(self) -> bytes | None:
        """The next line, blocking; None at end of file."""
        while (line := self.pop()) is None:
            if self.eof:
                return None
            self.fill()
        return line


# --- Kernel calls ---------------------------------------------------------------------------------

LIBC = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, options: str | None = None) -> None:
    def text(value):
        return None if value is None else value.encode()

    _check(LIBC.mount(text(source), text(target), text(fstype), ctypes.c_ulong(flags), text(options)),
           f"mount {source} on {target}")


def _unshare(flags: int) -> None:
    _check(LIBC.unshare(flags), f"unshare({flags:#x})")


def _prctl(option: int, value: int, *rest: int) -> None:
    args = [ctypes.c_ulong(value), *(ctypes.c_ulong(r) for r in rest)]
    _check(LIBC.prctl(option, *args, *[ctypes.c_ulong(0)] * (4 - len(args))), f"prctl({option})")


def _read_only_bind(source: str, target: str) -> None:
    """Bind `source` on `target` read-only, keeping the flags the kernel locks in a user namespace."""
    _mount(source, target, None, MS_BIND | MS_REC)
    kept = 0
    flags = os.statvfs(source).f_flag
    for bit, mount_flag in ST_TO_MS.items():
        if flags & bit:
            kept |= mount_flag
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _make_mountpoint(root: str, path: str, is_dir: bool) -> str:
    target = root + path
    os.makedirs(target if is_dir else os.path.dirname(target), exist_ok=True)
    if not is_dir and not os.path.exists(target):
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    return target


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def mapped_files() -> list[str]:
    """The files this process has mapped (the interpreter, libpython, libc, libm, ld.so, numpy's .so)."""
    found = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/") and os.path.isfile(parts[5].strip()):
                found.add(parts[5].strip())
    return sorted(found)


def build_root(stage: Path, keep: list[str], prefixes: list[str]) -> None:
    """pivot_root into a tmpfs holding, read-only, only `keep` (and the folders of the system libraries
    this process maps), ROOT_LIB, ROOT_GRADER, the devices and /proc; the old root is detached."""
    root = str(stage / "root")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    system = {os.path.dirname(path) for path in mapped_files()
              if not any(_within(path, prefix) for prefix in prefixes)}  # libc's folder: later dlopen()s
    wanted = sorted({os.path.realpath(path) for path in [*keep, *mapped_files(), *system]})
    chosen: list[str] = []
    for path in wanted:  # a path inside an already bound folder needs no bind of its own
        if os.path.exists(path) and not any(_within(path, folder) for folder in chosen):
            chosen.append(path)
    for path in chosen:
        _read_only_bind(path, _make_mountpoint(root, path, os.path.isdir(path)))
    _read_only_bind(str(stage / "lib"), _make_mountpoint(root, ROOT_LIB, True))
    _read_only_bind(str(stage / "grader"), _make_mountpoint(root, ROOT_GRADER, True))
    _make_mountpoint(root, ROOT_WORK, True)
    for device in DEVICES:
        _mount(device, _make_mountpoint(root, device, False), None, MS_BIND)
    # A fully visible /proc must stay mounted for a user namespace to mount a new one (each component
    # covers it with its own).
    _mount("/proc", _make_mountpoint(root, "/proc", True), None, MS_BIND | MS_REC)
    os.chdir(root)
    pivot = SYS_PIVOT_ROOT.get(platform.machine())
    if pivot is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(LIBC.syscall(pivot, b".", b"."), "pivot_root")
    _check(LIBC.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def unreachable(paths: list[str], keep: list[str]) -> list[str]:
    """Those of `paths` that show anything besides the way to a kept path (empty when all is well)."""
    shown = []
    for path in paths:
        if not os.path.lexists(path):
            continue
        allowed = {os.path.relpath(k, path).split("/")[0] for k in keep if _within(k, path) and k != path}
        if not os.path.isdir(path) or set(os.listdir(path)) - allowed:
            shown.append(path)
    return shown


# --- The worker ---------------------------------------------------------------------------------

def set_limits(limits: dict, own_uid: bool) -> None:
    """Hard rlimits, so that student code cannot raise them again."""
    megabyte = 1024 * 1024
    processes = limits["processes"] if own_uid else limits["processes"] + len(processes_of(os.getuid()))
    for kind, value in ((resource.RLIMIT_AS, limits["memory_mb"] * megabyte),
                        (resource.RLIMIT_FSIZE, limits["file_mb"] * megabyte),
                        (resource.RLIMIT_NPROC, processes),
                        (resource.RLIMIT_MSGQUEUE, 0),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(kind, (value, value))
    # The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))


def drop_privileges(uid: int | None) -> None:
    """No capability left, none to gain by exec, and (as root) an unprivileged uid of its own."""
    _prctl(PR_SET_SECUREBITS, SECURE_NOROOT_ALL)
    for capability in range(64):
        if LIBC.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(capability), 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    _prctl(PR_CAP_AMBIENT, 4)  # PR_CAP_AMBIENT_CLEAR_ALL
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _check(LIBC.capset(header, (ctypes.c_uint32 * 6)()), "capset: drop every capability")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    with open("/proc/self/status") as status:
        effective = next(line for line in status if line.startswith("CapEff:")).split()[1]
    if int(effective, 16):
        raise OSError(errno.EPERM, f"capabilities still effective: {effective}")


# Denied to graded code (EPERM): kernel objects that outlive a process or are not counted in its rlimits
# (System V IPC, POSIX message queues, memfd, keyrings), reaching into other processes (ptrace,
# process_vm_*), and everything that changes mounts, namespaces or the kernel. x86_64 numbers (asm/unistd_64.h).
DENIED_SYSCALLS = {
    "x86_64": {"shmget": 29, "shmat": 30, "semget": 64, "msgget": 68, "ptrace": 101, "pivot_root": 155,
               "chroot": 161, "acct": 163, "mount": 165, "umount2": 166, "swapon": 167, "reboot": 169,
               "init_module": 175, "delete_module": 176, "mq_open": 240, "kexec_load": 246, "add_key": 248,
               "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
               "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
               "finit_module": 313, "memfd_create": 319, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
               "io_uring_setup": 425, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432,
               "fspick": 433, "mount_setattr": 442, "memfd_secret": 447},
}
SECCOMP_ARCH = {"x86_64": (0xC000003E, 56, 435)}  # AUDIT_ARCH_X86_64, clone, clone3
NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
                   | CLONE_NEWCGROUP)


def seccomp_program(machine: str) -> bytes | None:
    """The classic-BPF filter of DENIED_SYSCALLS for `machine` (None where its numbers are not known here):
    other architectures' calls kill the process, x32 calls and clone with namespace flags get EPERM,
    clone3 (whose flags a filter cannot read) ENOSYS, so that the C library falls back to clone."""
    if machine not in SECCOMP_ARCH:
        return None
    arch, clone, clone3 = SECCOMP_ARCH[machine]
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ/JGE/JSET|K, BPF_RET|K
    allow, kill, deny, nosys = 0x7FFF0000, 0x80000000, 0x50000 | errno.EPERM, 0x50000 | errno.ENOSYS
    denied = sorted(DENIED_SYSCALLS[machine].values())
    # (code, jump-if-true label, jump-if-false label, k); labels are resolved to relative offsets below.
    program = [(load, None, None, 4), (jeq, "next", "kill", arch), (load, None, None, 0),
               (jge, "deny", "next", 0x40000000), *[(jeq, "deny", "next", number) for number in denied],
               (jeq, "nosys", "next", clone3), (jeq, "next", "allow", clone), (load, None, None, 16),
               (jset, "deny", "allow", NAMESPACE_FLAGS)]
    ends = {"allow": allow, "deny": deny, "nosys": nosys, "kill": kill}
    at = {label: len(program) + i for i, label in enumerate(ends)}
    code = b""
    for pc, (op, true, false, k) in enumerate(program):
        offsets = [0 if label in (None, "next") else at[label] - pc - 1 for label in (true, false)]
        code += struct.pack("=HBBI", op, *offsets, k)
    return code + b"".join(struct.pack("=HBBI", ret, 0, 0, value) for value in ends.values())


def deny_syscalls() -> bool:
    """Install the seccomp filter on this process and its future children; False where none is known."""
    code = seccomp_program(platform.machine())
    if code is None:
        return False
    filters = ctypes.create_string_buffer(code, len(code))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = Program(len(code) // 8, ctypes.addressof(filters))
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # required to install a filter without privileges (and kept for good)
    _check(LIBC.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(program), 0, 0),
           "seccomp filter")
    return True


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


def confine(limits: dict, session: dict) -> None:
    """The rlimits, no capabilities (and, as root, an unprivileged uid), the seccomp filter."""
    set_limits(limits, own_uid=session["uid"] is not None)
    if session["isolate"]:
        drop_privileges(session["uid"])
    if session["seccomp"]:
        deny_syscalls()


def is_grader_module(name: str) -> bool:
    return name.split(".")[0] in (PROBE_PACKAGE, DEFINITIONS_MODULE) or name.startswith("IPython")


def forget_grader(folders: list[str]) -> None:
    """Drop the grader's modules from sys.modules, its `folders` from sys.path and from the import system's
    directory listings, and any source line cached: graded code cannot import or list them (their files
    are unmounted in an isolated sandbox)."""
    for name in [name for name in sys.modules if is_grader_module(name)]:
        del sys.modules[name]
    sys.path[:] = [path for path in sys.path if not any(_within(path, folder) for folder in folders)]
    for path in [path for path in sys.path_importer_cache if any(_within(path, folder) for folder in folders)]:
        del sys.path_importer_cache[path]
    importlib.invalidate_caches()
    linecache.clearcache()
    gc.collect()


def explain(error: BaseException, limits: dict) -> str:
    """`describe`, naming the limit when the error comes from one."""
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return f"output limit: printed or wrote more than {limits['file_mb']} MB ({describe(error)})"
    if isinstance(error, MemoryError):
        return f"memory limit of {limits['memory_mb']} MB: {describe(error)}"
    return describe(error)


def work(questions: int, answers: int, job: dict, session: dict, cases: dict) -> None:
    """The worker: limits and privileges (then "ready"), the definitions (then "loaded"), then one answer
    per question, each `TOKEN RECORD` with the question's token."""
    confine(job["limits"], session)
    forget_grader(session["grader"])
    write_all(answers, b"ready\n")  # from here on the student's code runs in this process
    me = os.getpid()
    request = decode(job["request"], array_from_text)
    namespace, problems = load_definitions(session["statements"])
    write_all(answers, b"loaded " + json.dumps(problems).encode() + b"\n")
    lines = Lines(questions, 1024)
    while (line := lines.next()) is not None:
        token, _, name = line.decode("utf-8", "replace").partition(" ")
        if name not in cases:  # written into the pipe by the student's own code: not a question
            continue
        try:
            record = {"value": encode(cases[name](namespace, request), array_to_text)}
        except BaseException as error:  # SystemExit from student code fails this case only
            record = {"error": explain(error, job["limits"])}
        if os.getpid() != me:  # a copy forked by student code has nothing to answer
            os._exit(0)
        try:
            text = json.dumps(record)
        except (TypeError, ValueError, RecursionError) as error:
            text = json.dumps({"error": describe(error)})
        write_all(answers, f"{token} {text}\n".encode())


# --- The supervisor (PID 1 of a component's namespace) -------------------------------------------

def tail(fd: int) -> str:
    size = os.fstat(fd).st_size
    return os.pread(fd, TAIL_CHARS, max(0, size - TAIL_CHARS)).decode("utf-8", "replace")


def _names_used(thing: Any) -> set[str]:
    """The global names the code of a function, or of a class's methods and bases, refers to."""
    if isinstance(thing, type):
        members = [getattr(m, "__func__", getattr(m, "fget", m)) for m in vars(thing).values()]
        return {base.__name__ for base in thing.__bases__}.union(*map(_names_used, members))
    codes, names = [getattr(thing, "__code__", None)], set()
    while codes:
        code = codes.pop()
        if isinstance(code, types.CodeType):
            names.update(code.co_names)
            codes += code.co_consts
    return names


def keep_needed_stand_ins(probe: types.ModuleType) -> None:
    """Delete from `probes.standins` every stand-in `probe` does not use (directly or through another), so
    that the component being graded never runs next to a stand-in that implements it."""
    standins = sys.modules.get(f"{PROBE_PACKAGE}.standins")
    if standins is None:
        return
    own = {name: value for name, value in vars(standins).items() if not name.startswith("__") and (
        isinstance(value, dict) or getattr(value, "__module__", None) == standins.__name__)}
    by_id = {id(value): name for name, value in own.items()}
    todo = [by_id[id(value)] for value in vars(probe).values() if id(value) in by_id]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        value = own[name]
        used = [by_id.get(id(item)) for item in value.values()] if isinstance(value, dict) else _names_used(value)
        todo += [other for other in used if other in own]
    for name in own.keys() - needed:
        del vars(standins)[name]
    gc.collect()  # classes sit in reference cycles


def load_probe(component: str) -> dict:
    """The CASES of `probes.<component>`, with only the stand-ins it needs left in memory."""
    probe = importlib.import_module(f"{PROBE_PACKAGE}.{component}")
    keep_needed_stand_ins(probe)
    return dict(probe.CASES)


def limit_ipc(limits: dict) -> None:
    """In the component's own IPC namespace (gone with it): System V shared memory within the work folder's
    quota and at most 16 message queues (16 KB each), where the seccomp filter does not deny them already."""
    pages = (limits["disk_mb"] << 20) // os.sysconf("SC_PAGE_SIZE")
    for name, value in (("shmall", pages), ("shmmax", limits["disk_mb"] << 20), ("msgmni", 16)):
        with open(f"/proc/sys/kernel/{name}", "w") as file:
            file.write(str(value))


def supervise(relay: int, job: dict, session: dict) -> None:
    """New mount, IPC and network namespaces with the component's /proc and work folder; the probe loaded
    and the grader's folder unmounted; then fork the worker, ask it each case, report on `relay`."""
    limits = job["limits"]
    if session["isolate"]:
        _unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        owner = session["uid"] or 0
        _mount("tmpfs", ROOT_WORK, "tmpfs", MS_NOSUID | MS_NODEV,
               f"size={limits['disk_mb']}m,mode=700,uid={owner},gid={owner}")
        folder = ROOT_WORK
    else:
        folder = job["folder"]
    if session["isolate"]:
        limit_ipc(limits)
    cases = load_probe(job["component"])
    if session["isolate"]:
        _check(LIBC.umount2(ROOT_GRADER.encode(), MNT_DETACH), f"unmount {ROOT_GRADER}")
    _prctl(PR_SET_DUMPABLE, 0)  # no process of the same uid may open this one's /proc/1/fd
    outputs = {}
    for name in ("stdout", "stderr"):
        path = os.path.join(folder, f"{name}.txt")
        outputs[name] = (os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), os.open(path, os.O_RDONLY))
        if session["uid"] is not None:
            os.fchown(outputs[name][0], session["uid"], session["uid"])
    if session["uid"] is not None:
        os.chown(folder, session["uid"], session["uid"])
    question_read, question_write = os.pipe()
    answer_read, answer_write = os.pipe()
    worker = os.fork()
    if worker == 0:
        try:
            sources = [os.open("/dev/null", os.O_RDONLY), outputs["stdout"][0], outputs["stderr"][0],
                       question_read, answer_write]
            for target, source in enumerate([fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in sources]):
                os.dup2(source, target)  # via copies above 10: no target clobbers a source not yet moved
            os.closerange(5, 1 << 16)
            os.chdir(folder)
            os.environ.update(HOME=folder, TMPDIR=folder, MPLCONFIGDIR=folder)
            work(3, 4, job, session, cases)
        except BaseException as error:  # the worker's own failure or a student who broke it: say how
            os.write(2, f"\n{describe(error)}\n".encode())
            os._exit(1)
        os._exit(0)  # skip interpreter shutdown: student objects' __del__ cannot change anything now
    for fd in (question_read, answer_write, outputs["stdout"][0], outputs["stderr"][0]):
        os.close(fd)
    ended = os.pidfd_open(worker)
    answers = Lines(answer_read, limits["file_mb"] * 1024 * 1024)
    status = {"ready": False}

    def next_line() -> bytes | None:
        """The worker's next line, or None once it has ended (whoever still holds the pipe)."""
        while (line := answers.pop()) is None:
            if answers.eof:
                return None
            readable, _, _ = select.select([answer_read, ended], [], [])
            if answer_read in readable:
                answers.fill()
            elif ended in readable:
                os.set_blocking(answer_read, False)
                try:
                    answers.fill()
                except BlockingIOError:
                    answers.eof = True
            if answers.dropped > 8 * limits["file_mb"] * 1024 * 1024:
                os.kill(worker, signal.SIGKILL)  # flooding the channel: stop listening
                return None
        return line

    def expect(prefix: bytes) -> bytes | None:
        """The first line starting with `prefix` (the rest of it); anything else is dropped."""
        while (line := next_line()) is not None:
            if line.startswith(prefix):
                return line[len(prefix):]
            answers.dropped += len(line) + 1
        return None

    if next_line() == b"ready":  # the worker's first line, written before any student code ran
        status["ready"] = True
        loaded = expect(b"loaded ")
        if loaded is not None:
            try:
                problems = [str(p)[:MAX_ERROR_CHARS] for p in json.loads(loaded)]
            except (ValueError, TypeError, RecursionError):
                problems = []
            send(relay, {"loaded": problems})
            for name in cases:
                token = secrets.token_hex(16).encode()
                try:
                    write_all(question_write, token + b" " + name.encode() + b"\n")
                except BrokenPipeError:  # the student's code ended the worker (or closed its end)
                    break
                answer = expect(token + b" ")
                if answer is None:
                    break
                send(relay, {"case": name, "answer": answer.decode("utf-8", "replace")})
    os.close(question_write)
    _, code, usage = os.wait4(worker, 0)
    status.update(exit_code=os.waitstatus_to_exitcode(code), cpu_seconds=usage.ru_utime + usage.ru_stime,
                  output_tail=(tail(outputs["stdout"][1]) + tail(outputs["stderr"][1]))[-TAIL_CHARS:],
                  stderr_tail=tail(outputs["stderr"][1]), dropped_bytes=answers.dropped)
    send(relay, {"end": status})


# --- The server ---------------------------------------------------------------------------------

def run_component(job: dict, session: dict, probes: dict, out: int) -> None:
    """Fork the runner (new PID namespace, then the supervisor), relay its lines within the wall clock."""
    component, limits = job["component"], job["limits"]
    if isinstance(probes.get(component), str):  # the probe itself failed to import: the course's bug
        send(out, {"setup_error": f"probe {component}: {probes[component]}"})
        return
    if session["definitions_error"] is not None:  # the notebook could not be parsed: nothing to run
        send(out, {"component": component, "cases": {}, "timed_out": False, "unparsed": True})
        return
    relay_read, relay_write = os.pipe()
    started = time.monotonic()
    runner = os.fork()
    if runner == 0:
        try:
            os.setpgid(0, 0)
            os.close(relay_read)
            os.close(out)
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            if session["isolate"]:
                _unshare(CLONE_NEWPID)
            supervisor = os.fork()
            if supervisor == 0:
                supervise(relay_write, job, session)
                os._exit(0)
            os.close(relay_write)
            os.waitpid(supervisor, 0)
        except BaseException as error:  # trusted code failed: the sandbox could not be set up
            send(relay_write, {"setup_error": f"component {component}: {describe(error)}"})
            os._exit(1)
        os._exit(0)
    with contextlib.suppress(OSError):  # also set in the child: whichever runs first
        os.setpgid(runner, runner)
    os.close(relay_write)
    reply: dict[str, Any] = {"component": component, "cases": {}, "timed_out": False}
    lines = Lines(relay_read, 1 << 30)
    deadline = started + limits["seconds"]
    while True:
        while (line := lines.pop()) is not None:
            message = json.loads(line)
            if "case" in message:
                reply["cases"][message["case"]] = message["answer"]
            else:
                reply.update(message)
        if lines.eof:
            break
        remaining = None if reply["timed_out"] else deadline - time.monotonic()
        if (remaining is not None and remaining <= 0) or not select.select([relay_read], [], [], remaining)[0]:
            reply["timed_out"] = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(runner, signal.SIGKILL)  # the supervisor dies, and with it its whole PID namespace
            continue
        lines.fill()
    os.close(relay_read)
    os.waitpid(runner, 0)
    while True:  # a supervisor orphaned by a killed runner comes back here: it ends with its namespace
        try:
            if os.waitpid(-1, 0 if session["isolate"] else os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    reply["seconds"] = time.monotonic() - started
    send(out, reply)


def import_probes(folder: str) -> dict[str, list[str] | str]:
    """component -> the case names of `probes.<component>` in `folder` (or why it could not be imported)."""
    probes: dict[str, list[str] | str] = {}
    for path in sorted(Path(folder, PROBE_PACKAGE).glob("*.py")):
        if path.stem.startswith("_"):
            continue
        try:
            probes[path.stem] = list(importlib.import_module(f"{PROBE_PACKAGE}.{path.stem}").CASES)
        except Exception as error:
            probes[path.stem] = describe(error)
    return probes


def in_child(task: Callable[[], Any], limits: dict | None, session: dict) -> tuple[Any, str | None]:
    """(what `task()` returns, None), run in a forked child that sends it back as JSON, or (None, why not):
    the server's own state never sees what the task imports or parses. With `limits`, the child is
    confined like a worker and stopped at the wall clock."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.setpgid(0, 0)
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1):
                os.dup2(null, fd)
            os.closerange(3, writing)
            os.closerange(writing + 1, 1 << 16)
            if limits is not None:
                confine(limits, session)
            result = json.dumps({"result": task()})
        except BaseException as error:  # a parser that ran out of memory or recursion: say which
            result = json.dumps({"error": explain(error, limits or {})})
        write_all(writing, result.encode())
        os._exit(0)
    os.close(writing)
    deadline = time.monotonic() + (limits["seconds"] if limits else 60)
    data, timed_out = bytearray(), False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([reading], [], [], remaining)[0]:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
            break
        chunk = os.read(reading, 1 << 20)
        if not chunk:
            break
        data += chunk
    os.close(reading)
    _, code = os.waitpid(child, 0)
    if timed_out:
        return None, f"reading it did not finish within {limits['seconds'] if limits else 60:g} s"
    try:
        reply = json.loads(data)
    except ValueError:
        return None, f"reading it stopped ({describe_exit(os.waitstatus_to_exitcode(code), limits)})"
    return (reply["result"], None) if "result" in reply else (None, reply["error"])


def describe_exit(code: int, limits: dict | None) -> str:
    if code == -signal.SIGKILL or code == -signal.SIGXCPU:
        return f"stopped at the CPU-time limit of {limits['cpu_seconds']} s" if limits else "killed"
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"


def parse_cells(session: dict) -> None:
    """The notebook's statements and problems into `session`, parsed by a confined child (student text can
    make a parser loop, recurse or run out of memory: that costs a zero with a reason, nothing else)."""
    definitions = sys.modules[DEFINITIONS_MODULE]

    def parse() -> dict:
        found = definitions.select_definitions(session["cells"])
        return {"statements": found.statements, "problems": found.problems}

    found, why = in_child(parse, session["parse_limits"], session)
    if found is None:
        session["definitions_error"] = f"your notebook's code could not be read ({why}); none of it was run"
        found = {"statements": [], "problems": []}
    session.update(statements=found["statements"], problems=found["problems"])


def load_from_file(name: str, path: str) -> types.ModuleType:
    """Import the file at `path` as the module `name`, without running its packages' __init__."""
    for depth in range(1, name.count(".") + 1):  # empty parent packages, so that `from a.b import c` works
        parent = ".".join(name.split(".")[:depth])
        sys.modules.setdefault(parent, types.ModuleType(parent)).__path__ = []
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if "." in name:
        setattr(sys.modules[name.rpartition(".")[0]], name.rpartition(".")[2], module)
    return module


def load_transformer(ipython: str | None, name: str) -> None:
    """IPython's input transformer, the module `name`, from IPython's package folder `ipython` (it needs
    only the standard library and IPython's tokenutil; IPython's own __init__ would import half of Jupyter)."""
    if ipython is not None:
        for module in ("IPython.utils.tokenutil", name):
            load_from_file(module, os.path.join(ipython, *module.split(".")[1:]) + ".py")


def import_tinytorch() -> None:
    """Every module of tinytorch (graded code may import any of the students' package), loaded once."""
    import tinytorch

    for module in pkgutil.walk_packages(tinytorch.__path__, "tinytorch."):
        importlib.import_module(module.name)


def serve(stage: Path) -> None:
    """The sandbox's PID 1: set up once, then run each component asked on stdin, answering on stdout."""
    out = os.dup(1)
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)  # nothing printed by an import reaches the channel
    requests = Lines(0, 1 << 30)
    session = json.loads(requests.next())
    session["definitions_error"] = None
    try:
        import numpy  # noqa: F401  (loaded once, before the old root goes away)

        sys.path.insert(1, str(stage / "lib"))
        definitions = load_from_file(DEFINITIONS_MODULE, str(stage / "grader" / "definitions.py"))
        load_transformer(session["ipython"], definitions.TRANSFORMER_MODULE)
        grader = str(stage / "grader")
        session["grader"] = [grader, ROOT_GRADER]  # where it was imported from before and after the pivot
        if session["isolate"]:
            grader = ROOT_GRADER
            build_root(stage, session["keep"], session["prefixes"])
            sys.path[0:2] = [ROOT_GRADER, ROOT_LIB]
            importlib.invalidate_caches()
            shown = unreachable(session["hidden"], session["keep"])
            if shown:
                raise OSError(errno.EEXIST, f"still visible inside the sandbox: {shown}")
            _prctl(PR_SET_DUMPABLE, 0)
        import_tinytorch()  # from ROOT_LIB, once isolated: its files and tracebacks are where graded code sees them
        probes, why = in_child(functools.partial(import_probes, grader), None, session)
        if probes is None:
            raise OSError(errno.EIO, f"listing the probes {why}")
    except Exception as error:
        send(out, {"setup_error": f"sandbox server: {describe(error)}"})
        return
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphaned supervisors are reaped here, namespaces or not
    parse_cells(session)
    send(out, {"ready": True, "cases": {name: cases if isinstance(cases, list) else []
                                        for name, cases in probes.items()},
               "problems": session["problems"], "definitions_error": session["definitions_error"]})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 ignores default-action signals
    runs = 0
    while (line := requests.next()) is not None:
        job = json.loads(line)
        if not session["isolate"]:
            job["folder"] = str(stage / f"run-{runs}")
            os.mkdir(job["folder"], 0o700)
        runs += 1
        run_component(job, session, probes, out)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    serve(Path(sys.argv[1]))
