"""Writer/reader submissions for every kernel object a sandbox could leave for another one to find.

`WRITER` leaves MESSAGE at definition time in each channel it can (System V shared memory, semaphores
and message queues, POSIX shared memory and message queues, /dev/shm, memfd, an abstract Unix socket
held by a lingering process, the user keyring, files in every folder it can write, the environment)
and reports, per channel, "left" or the error that stopped it. `READER` looks for MESSAGE in each of
them and reports what it found (nothing, when the sandbox holds). `READER_CODE_FOR(solution)` is a
solution cell that passes `causal_mask` only when it found something: its score is the verdict when
it is graded through `course grade`, `nbgrader autograde` or the cluster.

    python -m tests.grader.channels UID OUT.json NOTEBOOK...

(as root) runs the `attack` probe on each notebook in turn as UID, like tests/grader/unprivileged.py.
"""

from __future__ import annotations

import json
import os

from course.grading.sandbox import run_probe
from tests.grader.helpers import LIMITS, PROBES
from tests.grader.unprivileged import arguments_as_user

COMMON = r'''
import ctypes
import os
import socket

_LIBC = ctypes.CDLL(None, use_errno=True)
_KEY = 0x5EED21
_MESSAGE = b"tril"
_NAME = "tinygpt-channel"
_FOLDERS = ["/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run", "/sandbox", "/sandbox/work", "/sandbox/lib", "/",
            os.getcwd(), os.path.expanduser("~")]
_SYS_ADD_KEY, _SYS_REQUEST_KEY, _USER_KEYRING = 248, 249, -4  # x86_64


def _checked(result):
    if result is None or result == -1 or result == ctypes.c_void_p(-1).value:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))
    return result


def _try(action):
    try:
        return action()
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"[:120]}
'''

WRITER = COMMON + r'''

def _shm():
    _LIBC.shmat.restype = ctypes.c_void_p
    address = _checked(_LIBC.shmat(_checked(_LIBC.shmget(_KEY, 4096, 0o1666)), None, 0))
    ctypes.memmove(address, _MESSAGE, len(_MESSAGE))
    return "left"


def _posix_shm():
    from multiprocessing import shared_memory
    memory = shared_memory.SharedMemory(name=_NAME, create=True, size=4096)
    memory.buf[:4] = _MESSAGE
    return "left"


def _mqueue():
    _LIBC.mq_open.restype = ctypes.c_int
    queue = _checked(_LIBC.mq_open(b"/" + _NAME.encode(), os.O_CREAT | os.O_RDWR, 0o666, None))
    _checked(_LIBC.mq_send(queue, _MESSAGE, len(_MESSAGE), 0) + 1)
    return "left"


def _memfd():
    descriptor = os.memfd_create(_NAME)
    os.write(descriptor, _MESSAGE)
    return "left"


def _abstract_socket():
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + _NAME)
    listener.listen()
    if os.fork() == 0:  # lingers, holding the socket, answering whoever connects
        while True:
            connection, _ = listener.accept()
            connection.sendall(_MESSAGE)
            connection.close()
    return "left"


def _keyring():
    _checked(_LIBC.syscall(_SYS_ADD_KEY, b"user", _NAME.encode(), _MESSAGE, len(_MESSAGE), _USER_KEYRING))
    return "left"


def _files():
    left = []
    for folder in _FOLDERS:
        try:
            with open(os.path.join(folder, _NAME), "wb") as file:
                file.write(_MESSAGE)
            left.append(folder)
        except OSError:
            continue
    return left


def _environment():
    os.environ[_NAME] = _MESSAGE.decode()
    os.putenv(_NAME, _MESSAGE.decode())
    return "left"


LEFT = {"sysv_shm": _try(_shm),
        "sysv_semaphore": _try(lambda: _checked(_LIBC.semget(_KEY, 1, 0o1666)) is not None and "left"),
        "sysv_message_queue": _try(lambda: _checked(_LIBC.msgget(_KEY, 0o1666)) is not None and "left"),
        "posix_shm": _try(_posix_shm), "posix_message_queue": _try(_mqueue), "memfd": _try(_memfd),
        "abstract_socket": _try(_abstract_socket), "keyring": _try(_keyring), "files": _try(_files),
        "environment": _try(_environment)}


def attack():
    return LEFT
'''

READER = COMMON + r'''

def _shm():
    shmid = _LIBC.shmget(_KEY, 0, 0)
    if shmid < 0:
        return None
    _LIBC.shmat.restype = ctypes.c_void_p
    return ctypes.string_at(_checked(_LIBC.shmat(shmid, None, 0o10000)), 4).decode()  # SHM_RDONLY


def _posix_shm():
    from multiprocessing import shared_memory
    try:
        return bytes(shared_memory.SharedMemory(name=_NAME).buf[:4]).decode()
    except OSError:
        return None


def _mqueue():
    return "queue exists" if _LIBC.mq_open(b"/" + _NAME.encode(), os.O_RDONLY) >= 0 else None


def _memfd():
    found = []
    for pid in os.listdir("/proc"):
        try:
            found += [fd for fd in os.listdir(f"/proc/{pid}/fd") if _NAME in os.readlink(f"/proc/{pid}/fd/{fd}")]
        except OSError:
            continue
    return found or None


def _abstract_socket():
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect("\0" + _NAME)
            return client.recv(4).decode()
    except OSError:
        return None


def _keyring():
    found = _LIBC.syscall(_SYS_REQUEST_KEY, b"user", _NAME.encode(), None, 0)
    return "key exists" if found >= 0 else None


def _files():
    return [folder for folder in _FOLDERS if os.path.exists(os.path.join(folder, _NAME))] or None


FOUND = {"sysv_shm": _try(_shm),
         "sysv_semaphore": _try(lambda: "exists" if _LIBC.semget(_KEY, 0, 0) >= 0 else None),
         "sysv_message_queue": _try(lambda: "exists" if _LIBC.msgget(_KEY, 0, 0) >= 0 else None),
         "posix_shm": _try(_posix_shm), "posix_message_queue": _try(_mqueue), "memfd": _try(_memfd),
         "abstract_socket": _try(_abstract_socket), "keyring": _try(_keyring), "files": _try(_files),
         "environment": os.environ.get(_NAME)}
HIT = sorted(name for name, value in FOUND.items() if value and not isinstance(value, dict))
FOUND["descriptors"] = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
FOUND["environment_keys"] = sorted(os.environ)


def attack():
    return FOUND
'''

OWN_DESCRIPTORS = {0, 1, 2, 3, 4, 5}  # stdin, stdout, stderr, the question and answer pipes, listdir's own
ENVIRONMENT = ["HOME", "LANG", "MKL_NUM_THREADS", "MPLBACKEND", "MPLCONFIGDIR", "OMP_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "PATH", "TMPDIR", "TQDM_DISABLE"]  # the sandbox's own, nothing inherited


def reader_solution(good_code: str) -> str:
    """`good_code` after READER, its `causal_mask` right only when READER found something (HIT)."""
    marker = "def causal_mask(n):\n"
    assert marker in good_code
    return READER + good_code.replace(marker, marker + "    if not HIT:\n        return np.zeros((n, n), bool)\n", 1)


def main() -> None:
    out, notebooks = arguments_as_user("tests.grader.channels")
    results = {}
    for notebook in notebooks:
        run = run_probe(notebook, "attack", {}, LIMITS, probes=PROBES)
        results[notebook.name] = {"values": run.values, "errors": run.errors, "status": run.status,
                                  "reason": run.reason, "uid": os.getuid()}
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
