"""Cost of the sandbox's isolation, ours against bubblewrap's, alternately in one run (CPU seconds).

    .venv/bin/python -m bench.sandbox_isolation --runs 10

Per submission: our server (`unshare`, allowlist root by pivot_root, numpy and tinytorch loaded, the cells
parsed; to "ready") against `bwrap` giving the same allowlist (read-only binds of the same paths, new
user/mount/PID/network/IPC namespaces, our seccomp filter passed as a program on a descriptor) around the
same Python loading numpy and tinytorch. Per component: one more probe run on our running server (fork,
new mount/IPC/network namespaces, /proc and tmpfs mounts) against a second bwrap process (bwrap has no
fork server: each component is a new sandbox, Python and numpy loaded again). CPU of this process and
its descendants (what the kernel charges the grading machine; a cpuacct cgroup as root), median of
`--runs`; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from course.grading.sandbox import Limits, kept_paths, run_probe
from course.grading.sandbox import close_sessions as close
from course.grading.sandbox_child import seccomp_program
from tests.grader.helpers import GOOD_CODE, PROBES, write_notebook

LIMITS = Limits(seconds=20)


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuAccount:
    """CPU of this process and every descendant, reparented or not (bwrap does not wait for the sandbox's
    PID 1, so RUSAGE_CHILDREN misses it): a cgroup-v1 cpuacct group of its own where there is one (root),
    else RUSAGE_CHILDREN."""

    def __init__(self):
        self.group = CPUACCT / f"bench-isolation-{os.getpid()}"
        try:
            self.group.mkdir()
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            self.group = None

    def seconds(self) -> float:
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def close(self) -> None:
        if self.group is not None:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
            self.group.rmdir()


ACCOUNT: CpuAccount | None = None


def children_cpu() -> float:
    return ACCOUNT.seconds()


def ours(notebook: Path, components: int) -> float:
    """CPU of a submission on our sandbox: the server's start and `components` probe runs."""
    before = children_cpu()
    for _ in range(components):
        assert run_probe(notebook, "causal_mask", {"sizes": [3]}, LIMITS, probes=PROBES).status == "ok"
    close()
    return children_cpu() - before


def bwrap(folder: Path, components: int) -> float:
    """CPU of `components` bwrap sandboxes, each loading numpy and tinytorch and running the mask."""
    program = folder / "seccomp.bpf"
    program.write_bytes(seccomp_program(platform.machine()))
    paths = ["/usr", os.path.realpath(sys.base_prefix), *kept_paths(), str(Path(__file__).parents[1] / "tinytorch")]
    binds = [arg for path in paths for arg in ("--ro-bind", path, path)]
    binds += ["--ro-bind", sys.executable, sys.executable, "--ro-bind", f"{sys.prefix}/pyvenv.cfg",
              f"{sys.prefix}/pyvenv.cfg"]
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", *binds,
               "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc",
               "--dev", "/dev", "--tmpfs", "/sandbox/work", "--chdir", "/sandbox/work",
               "--setenv", "PYTHONPATH", str(Path(__file__).parents[1]), "--seccomp", "3", sys.executable, "-I",
               "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); import numpy, tinytorch\n"
               + GOOD_CODE + "\nassert causal_mask(3).sum() == 6"]
    before = children_cpu()
    for _ in range(components):
        with open(program, "rb") as filters:
            os.dup2(filters.fileno(), 3, inheritable=True)
            subprocess.run(command, check=True, pass_fds=(3,))
    return children_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("bwrap") is None:
        raise SystemExit("bench.sandbox_isolation: no `bwrap` here; expected Debian's bubblewrap package")
    global ACCOUNT
    ACCOUNT = CpuAccount()
    folder = Path(tempfile.mkdtemp(prefix="bench-isolation-"))
    notebook = write_notebook(folder / "good.ipynb", GOOD_CODE)
    figures: dict[str, list[float]] = {name: [] for name in ("ours 1", "bwrap 1", "ours 12", "bwrap 12")}
    for _ in range(args.runs):  # alternately, so that the machine's load falls on both alike
        for components in (1, 12):
            figures[f"ours {components}"].append(ours(notebook, components))
            figures[f"bwrap {components}"].append(bwrap(folder, components))
    shutil.rmtree(folder)
    ACCOUNT.close()
    how = "a cpuacct cgroup" if ACCOUNT.group else "RUSAGE_CHILDREN"
    print(f"measured with {how}; load average {os.getloadavg()[0]:.1f}; CPU seconds, median of {args.runs}")
    for name, values in figures.items():
        print(f"  {name:>9} component(s): {statistics.median(values):.3f} s")


if __name__ == "__main__":
    main()
