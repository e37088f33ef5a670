"""Grade on a Dask cluster: one task per submission, the same sandboxed harness on every worker.

`ClusterGrader.connect(address)` connects to a running `dask scheduler`, asks every worker what its
sandbox protects (a real probe run, `ProbeRun.protections`) and which grader it runs (a fingerprint
of the hidden suites, probes, reference and tinytorch), and keeps only the workers that match the
coordinator: a worker whose sandbox lacks a protection the coordinator's has is refused, with one
line naming it, unless `allow_weak_sandbox`. Calling the grader sends each notebook's bytes to a
kept worker (`grade_on_worker`), which writes them to a scratch folder, grades them with
`course.grading.harness.grade_notebook` and sends back the report as JSON text: only bytes, strings
and plain dicts cross the network, never an object made by student code. The coordinator
(`course.grading.batch.grade_course`) alone writes reports, feedback and the gradebook.

A worker that dies mid-submission: the scheduler gives its task to another kept worker (Dask
reschedules the tasks of a lost worker; after `distributed.scheduler.allowed-failures` losses, 3 by
default, the task fails with KilledWorker). Each submission's task has its own key and its result is
taken once, so nothing is graded into the reports twice; a submission whose task failed is listed in
`lost` and has no report, so the next `course grade` grades it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat

from course.grading.harness import HIDDEN_SUITES, REPO, find_notebook, grade_notebook, grade_submission
from course.grading.report import GradingError, SubmissionReport
from course.grading.sandbox import run_probe
from course.grading.sandbox_child import describe

# What a worker grades with: it must be byte-for-byte the coordinator's, or scores could differ.
GRADER_FILES = ("course/**/*.py", "tinytorch/**/*.py", "tests/hidden/**/*.py", "tests/*.py", "solutions/**/*.py")
CHECK_PROBE = '"""Proves the sandbox child runs."""\n\nCASES = {"runs": lambda namespace, request: 1 + 1}\n'
WAIT_FOR_WORKERS_SECONDS = 30
POLL_SECONDS = 5  # how often a waiting coordinator checks that some kept worker is still there


def grader_fingerprint(repo: Path = REPO) -> str:
    """SHA-256 over the paths and bytes of GRADER_FILES (caches excluded)."""
    digest = hashlib.sha256()
    paths = sorted({path for pattern in GRADER_FILES for path in repo.glob(pattern) if "__pycache__" not in path.parts})
    for path in paths:
        digest.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def sandbox_check() -> dict:
    """What this machine's sandbox gives, from one real probe run: runs on each worker and on the coordinator.

    Plain data: {"host", "fingerprint", "protections": [...], "error": None or one sentence}.
    """
    info = {"host": socket.gethostname(), "fingerprint": grader_fingerprint(), "protections": [], "error": None}
    try:
        with tempfile.TemporaryDirectory(prefix="sandbox-check-") as scratch:
            probes = Path(scratch) / "probes"
            probes.mkdir()
            (probes / "__init__.py").write_text("")
            (probes / "check.py").write_text(CHECK_PROBE)
            notebook = Path(scratch) / "empty.ipynb"
            nbformat.write(nbformat.v4.new_notebook(), notebook)
            run = run_probe(notebook, "check", {}, probes=probes)
        info["protections"] = run.protections
        if run.status != "ok" or run.values.get("runs") != 2:
            info["error"] = f"a test probe did not run in its sandbox ({run.status}: {run.reason})"
    except Exception as error:  # reported to the coordinator, which refuses this worker
        info["error"] = f"its sandbox could not run a test probe ({describe(error)})"
    return info


def protection_names(protections: list[str]) -> set[str]:
    """The names of the active protections: each line up to its first ':' or ',', numbers dropped.

    "mount namespace: repository ... hidden" -> "mount namespace"; "unprivileged uid 412345 of its own,
    no new privileges" -> "unprivileged uid of its own"; lines saying "NOT active" name none.
    """
    names = set()
    for line in protections:
        if not line.startswith("NOT active"):
            names.add(re.sub(r"\s*\d+(\.\d+)?", "", re.split(r"[:,]", line, maxsplit=1)[0]).strip())
    return names


def missing_protections(worker: list[str], required: list[str]) -> list[str]:
    """The protections in `required` that `worker` lacks, in `required`'s order."""
    have = protection_names(worker)
    return [name for name in dict.fromkeys(sorted(protection_names(required))) if name not in have]


def refusal(worker: dict, coordinator: dict, allow_weak_sandbox: bool) -> str | None:
    """Why a worker (its `sandbox_check()`) may not grade for this coordinator, or None."""
    if worker.get("error"):
        return worker["error"]
    if worker.get("fingerprint") != coordinator["fingerprint"]:
        return ("its grader (hidden suites, probes, reference, tinytorch) differs from the coordinator's; "
                "install the same commit of the course repository on it")
    missing = missing_protections(worker.get("protections", []), coordinator["protections"])
    if missing and not allow_weak_sandbox:
        return (f"its sandbox lacks {', '.join(missing)} (the coordinator's has it); run the worker as root or "
                f"where user namespaces are allowed, or pass --allow-weak-sandbox")
    return None


def grade_on_worker(student: str, name: str, notebook: bytes, hide: list[str]) -> dict:
    """Runs on a worker: grade the notebook `notebook` (its bytes) as `student`; plain data back.

    {"report": the SubmissionReport as JSON text, "worker": this worker's address}, or {"error": ...}
    when the grading machinery itself failed (never because of what the student wrote).
    """
    from distributed import get_worker

    address = get_worker().address
    try:
        with tempfile.TemporaryDirectory(prefix="cluster-grading-") as scratch:
            path = Path(scratch) / "submission" / (Path(name).name or "submission.ipynb")
            path.parent.mkdir()
            path.write_bytes(notebook)
            folders = tuple(Path(folder) for folder in hide if Path(folder).is_dir())  # those on this machine
            report = grade_notebook(path, student, hide=folders)
        return {"report": report.to_json(), "worker": address}
    except Exception as error:  # the grader's machinery (e.g. SandboxError): reported, never hidden
        return {"error": describe(error), "worker": address}


class ClusterGrader:
    """Grades submissions on the kept workers of a Dask cluster (a `grade_course` grader)."""

    def __init__(self, client, workers: list[str]):
        self.client = client
        self.workers = workers  # the addresses of the workers that passed the sandbox check
        self.lost: dict[str, str] = {}  # student -> why their submission has no report
        self.graded_by: dict[str, str] = {}  # student -> the worker whose report was taken

    @classmethod
    def connect(cls, address: str, allow_weak_sandbox: bool = False,
                wait_seconds: float = WAIT_FOR_WORKERS_SECONDS) -> ClusterGrader:
        """Connect to the scheduler at `address` and check its workers; `GradingError` (one line) if unusable."""
        from distributed import Client

        try:  # the connect timeout is Dask's `distributed.comm.timeouts.connect` (30 s unless configured)
            client = Client(address, set_as_default=False)
        except (OSError, ValueError, TypeError) as error:
            raise GradingError(f"cannot reach the Dask scheduler at {address} ({describe(error)}); expected a "
                               f"running `dask scheduler` at tcp://HOST:PORT") from None
        try:
            client.wait_for_workers(1, timeout=wait_seconds)
            checks = client.run(sandbox_check)
        except (TimeoutError, OSError) as error:
            client.close()
            raise GradingError(f"the Dask scheduler at {address} has no worker ({describe(error)}); "
                               f"start some with `dask worker {address}`") from None
        coordinator = sandbox_check()
        if coordinator["error"]:
            client.close()
            raise GradingError(f"this machine's sandbox does not work: {coordinator['error']}")
        refused = {worker: refusal(check, coordinator, allow_weak_sandbox) for worker, check in checks.items()}
        kept = sorted(worker for worker, problem in refused.items() if problem is None)
        lines = [f"worker {worker} ({checks[worker]['host']}) refused: {problem}"
                 for worker, problem in sorted(refused.items()) if problem]
        if not kept:
            client.close()
            raise GradingError("; ".join(lines))
        for line in lines:
            print(line, file=sys.stderr)
        for worker in kept:
            weaker = missing_protections(checks[worker]["protections"], coordinator["protections"])
            if weaker:
                print(f"worker {worker}: grading with a weaker sandbox (lacks {', '.join(weaker)}) because of "
                      f"--allow-weak-sandbox", file=sys.stderr)
        return cls(client, kept)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ClusterGrader:
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def __call__(self, folders: dict[str, Path], hide: tuple[Path, ...], suites: Path) -> Iterator[SubmissionReport]:
        """Each student's report, as the results arrive (a folder without one notebook is graded here: zero)."""
        if Path(suites).resolve() != HIDDEN_SUITES.resolve():
            raise GradingError(f"a cluster grades with its workers' hidden suites ({HIDDEN_SUITES}), not {suites}")
        pending = {}
        for student, folder in folders.items():
            try:
                notebook = find_notebook(folder)
            except GradingError:  # nothing to send: the harness's zero report says why
                yield grade_submission(folder, student, hide, suites)
                continue
            future = self.client.submit(grade_on_worker, student, notebook.name, notebook.read_bytes(),
                                        [str(folder) for folder in hide], key=f"grade-{student}-{secrets.token_hex(4)}",
                                        workers=self.workers, allow_other_workers=False)
            pending[future] = (student, notebook)
        checked = time.monotonic()
        while pending:
            done = [future for future in pending if future.done()]  # finished, failed or cancelled
            if not done:
                if time.monotonic() - checked > POLL_SECONDS:
                    if not self._any_worker_left():
                        for future, (student, _) in pending.items():
                            self.lost[student] = "every worker that passed the sandbox check left the cluster"
                            future.cancel()
                        return
                    checked = time.monotonic()
                time.sleep(0.1)
                continue
            for future in done:
                student, notebook = pending.pop(future)
                report = self._report(future, student, notebook)
                if report is not None:
                    yield report

    def _any_worker_left(self) -> bool:
        return bool(set(self.workers) & set(self.client.scheduler_info(n_workers=-1)["workers"]))

    def _report(self, future, student: str, notebook: Path) -> SubmissionReport | None:
        try:
            result = future.result()
        except Exception as error:  # KilledWorker (its task killed workers), cancelled by a lost scheduler, ...
            self.lost[student] = describe(error)
            return None
        if "error" in result:
            self.lost[student] = f"the grader failed on worker {result['worker']}: {result['error']}"
            return None
        report = SubmissionReport.from_json(result["report"])
        report.notebook = str(notebook)  # where the coordinator keeps it, not the worker's scratch copy
        self.graded_by[student] = result["worker"]
        return report
