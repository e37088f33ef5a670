"""Grade as an unprivileged user, as on an instructor's laptop (the tests run as root in CI).

    python -m tests.grader.unprivileged UID OUT.json NOTEBOOK...

must run as root: in a mount namespace of its own it makes the interpreter and the repository reachable
for UID (any folder on their way that others may not enter, such as /root holding pyenv, is covered by
an empty tmpfs holding only binds of what is needed; nothing on the machine changes), then becomes UID
(no groups, no capabilities) and runs `grade` below, which writes what `grade` returns to OUT.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from course.grading.harness import grade_notebook
from course.grading.sandbox import run_probe
from course.grading.sandbox_child import MS_BIND, MS_PRIVATE, MS_REC, _mount
from tests.grader.helpers import LIMITS, PROBES

REPO = Path(__file__).resolve().parents[2]
MS_MOVE = 8192


def grade(notebooks: list[Path]) -> dict:
    """Each notebook graded on every component, and what the `attack` probe's run on it brought back."""
    results = {}
    for notebook in notebooks:
        report = grade_notebook(notebook, notebook.stem)
        probe = run_probe(notebook, "attack", {}, LIMITS, probes=PROBES)
        results[notebook.name] = {
            "points": {c.id: c.points for c in report.components}, "total": report.total,
            "messages": sorted({t.message for c in report.components for t in c.tests}),
            "protections": report.protections, "attack": probe.values, "attack_errors": probe.errors,
            "attack_status": probe.status, "attack_reason": probe.reason, "attack_output": probe.output_tail,
            "uid": os.getuid()}
    return results


def make_reachable(paths: list[Path]) -> None:
    """In this (private) mount namespace, let anyone walk down to each of `paths`."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    blocked: dict[Path, list[Path]] = {}
    for path in sorted({p.resolve() for p in paths}):
        for ancestor in [*reversed(path.parents)][1:]:
            if not ancestor.stat().st_mode & 0o001:  # others may not enter
                inside = blocked.setdefault(ancestor, [])
                if not any(path.is_relative_to(other) for other in inside):
                    inside.append(path)
                break
    for ancestor, inside in blocked.items():
        stash = Path(tempfile.mkdtemp(prefix="reachable-"))
        for number, path in enumerate(inside):
            (stash / str(number)).mkdir()
            _mount(str(path), str(stash / str(number)), None, MS_BIND | MS_REC)
        _mount("tmpfs", str(ancestor), "tmpfs", 0, "mode=755")
        for number, path in enumerate(inside):
            path.mkdir(parents=True, exist_ok=True)
            _mount(str(stash / str(number)), str(path), None, MS_MOVE)


def run_as(uid: int, out: Path, notebooks: list[Path], timeout: float) -> dict:
    """`grade(notebooks)` as `uid` (from root), via this module in a mount namespace of its own."""
    command = ["unshare", "--mount", sys.executable, "-m", "tests.grader.unprivileged", str(uid), str(out),
               *map(str, notebooks)]
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
                   "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(out.parent), "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
    finished = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout)
    if finished.returncode != 0:
        raise RuntimeError(f"grading as uid {uid} failed ({finished.returncode}): {finished.stderr[-3000:]}")
    return json.loads(out.read_text())


def arguments_as_user(module: str) -> tuple[Path, list[Path]]:
    """`python -m MODULE UID OUT NOTEBOOK...`: (OUT, NOTEBOOKs), in a process of user UID. Started as root, it
    makes what the run needs reachable for UID and runs MODULE again as UID (so this returns only there)."""
    uid, out, notebooks = int(sys.argv[1]), Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
    if os.getuid() == 0:
        make_reachable([Path(sys.base_prefix), Path(sys.prefix), REPO, out.parent, *notebooks])
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        os.execv(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]])
    return out, notebooks


def main() -> None:
    out, notebooks = arguments_as_user("tests.grader.unprivileged")
    out.write_text(json.dumps(grade(notebooks)))


if __name__ == "__main__":
    main()
