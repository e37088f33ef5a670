"""`course grade --scheduler`: a real `dask scheduler` and real `dask worker` processes on 127.0.0.1.

The reference, the untouched release and a mutant graded through two workers get the scores (and the
feedback) of local grading; a worker killed mid-submission loses nothing and records nothing twice; a
worker with a weaker sandbox is refused in one line; an unreachable scheduler is one line, exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from distributed import Client

from course.grading.batch import grade_course
from course.grading.cluster import ClusterGrader, missing_protections, refusal, sandbox_check
from course.grading.harness import grade_notebook
from course.mutants import MUTANTS, RELEASE, load_mutant, mutant_submission, reference_submission
from course.submissions import write_submission
from tests.cluster.dask_cluster import free_port, local_cluster

ROOT = Path(__file__).resolve().parents[2]
MUTANT = load_mutant(MUTANTS / "layer_norm" / "unbiased_variance.py")


def _course(folder: Path, notebooks: dict[str, nbformat.NotebookNode]) -> Path:
    """A course folder with the assignment's source and one submission per student."""
    shutil.copytree(ROOT / "source", folder / "source")
    for student, notebook in notebooks.items():
        write_submission(notebook, folder / "submitted", student)
    return folder


def _comparable(report) -> dict:
    """What grading decided (points, outcomes, feedback), without timing, paths and dates."""
    data = json.loads(report.to_json())
    for key in ("notebook", "seconds", "graded_at", "protections"):
        del data[key]
    return data


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    with local_cluster(tmp_path_factory.mktemp("dask"), {"alpha": None, "beta": None}) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            cluster.wait_for_workers(client, 2)
        yield cluster


def test_cluster_grades_like_local_processes(two_workers, tmp_path):
    course = _course(tmp_path, {"reference": reference_submission(), "release": nbformat.read(RELEASE, as_version=4),
                                "mutant": mutant_submission(MUTANT)})
    with ClusterGrader.connect(two_workers.address) as grader:
        assert len(grader.workers) == 2
        reports = {r.student: r for r in grade_course(course, nbgrader=False, progress=False, grader=grader)}
    assert not grader.lost
    assert reports["reference"].total == 100 and reports["release"].total == 0
    local = grade_notebook(course / "submitted" / "mutant" / "tinygpt" / "tinygpt.ipynb", "mutant", hide=(course,))
    assert 0 < local.total < 100
    assert _comparable(reports["mutant"]) == _comparable(local)
    saved = json.loads((course / "reports" / "tinygpt" / "mutant.json").read_text())
    assert saved["notebook"] == str(course / "submitted" / "mutant" / "tinygpt" / "tinygpt.ipynb")
    assert saved["protections"] and not any(p.startswith("NOT active") for p in saved["protections"])


def test_course_grade_with_a_scheduler_writes_the_reports_and_tables(two_workers, tmp_path):
    course = _course(tmp_path, {})
    (course / "submitted" / "nobody" / "tinygpt").mkdir(parents=True)  # no notebook: a zero, nothing sent
    finished = _course_cli(course, "--scheduler", two_workers.address)
    assert finished.returncode == 0, finished.stderr
    reports = course / "reports" / "tinygpt"
    assert "nobody" in finished.stdout and "no .ipynb file" in (reports / "nobody.md").read_text()
    grades = json.loads((reports / "grades.json").read_text())
    assert grades["nobody"]["total"] == 0


def _grading_child(process: psutil.Process) -> bool:
    """Is a hidden-suite pytest process running under this worker?"""
    for child in process.children(recursive=True):
        try:
            if "pytest" in child.cmdline():
                return True
        except psutil.Error:  # it ended meanwhile
            continue
    return False


def test_a_worker_killed_mid_submission_loses_nothing_and_records_nothing_twice(tmp_path):
    release = nbformat.read(RELEASE, as_version=4)  # two submissions: one per worker, then alpha's again on beta
    course = _course(tmp_path / "course", {"ann": reference_submission(), "bob": release})
    with local_cluster(tmp_path / "dask", {"alpha": None, "beta": None}) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            cluster.wait_for_workers(client, 2)
            beta = cluster.address_of(client, "beta")
            with ClusterGrader.connect(cluster.address) as grader:
                result = {}
                run = threading.Thread(target=lambda: result.update(
                    reports=grade_course(course, nbgrader=False, progress=False, grader=grader)))
                run.start()
                alpha = psutil.Process(cluster.workers["alpha"].pid)
                deadline = time.monotonic() + 120
                while not _grading_child(alpha) and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert _grading_child(alpha), "worker alpha never started grading"
                on_alpha = {key for key in client.processing()[cluster.address_of(client, "alpha")]}
                cluster.kill_worker("alpha")
                run.join(timeout=300)
                assert not run.is_alive(), "grading did not finish after the worker was killed"
    assert not grader.lost
    killed = {key.removeprefix("grade-").rsplit("-", 1)[0] for key in on_alpha}
    assert killed, "no task was running on alpha when it was killed"
    assert {student: grader.graded_by[student] for student in killed} == {student: beta for student in killed}
    totals = {r.student: r.total for r in result["reports"]}
    assert totals == {"ann": 100, "bob": 0}
    reports = course / "reports" / "tinygpt"
    assert sorted(p.name for p in reports.glob("*.json") if p.stem in totals) == ["ann.json", "bob.json"]
    assert not (reports / "previous").exists(), "a report was saved twice"


def test_protections_are_compared_by_name_and_numbers_do_not_matter():
    coordinator = sandbox_check()
    assert coordinator["error"] is None
    same_but_other_uid = [p.replace("uid ", "uid 9") for p in coordinator["protections"]]
    assert missing_protections(same_but_other_uid, coordinator["protections"]) == []
    no_namespaces = [p for p in coordinator["protections"] if "namespace" not in p]
    assert missing_protections(no_namespaces, coordinator["protections"]) == [
        "PID namespace per component", "network namespace"]
    worker = {**coordinator, "protections": no_namespaces}
    assert "lacks PID namespace per component, network namespace" in refusal(worker, coordinator, False)
    assert refusal(worker, coordinator, allow_weak_sandbox=True) is None
    assert "differs" in refusal({**coordinator, "fingerprint": "0" * 64}, coordinator, True)


def _course_cli(course: Path, *arguments: str, environment: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "course.cli", "--course-dir", str(course), "grade", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, **(environment or {})})


def test_a_worker_without_namespaces_is_refused_in_one_line(tmp_path):
    here = sandbox_check()["protections"]
    assert "allowlist root" in " ".join(here), f"this machine's sandbox has no namespaces to lack: {here}"
    course = _course(tmp_path / "course", {"release": nbformat.read(RELEASE, as_version=4)})
    no_unshare = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # `unshare` not found: no namespaces
    with local_cluster(tmp_path / "dask", {"weak": no_unshare}) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            cluster.wait_for_workers(client, 1)
        finished = _course_cli(course, "--scheduler", cluster.address)
        assert finished.returncode == 2, finished.stderr
        assert finished.stderr.count("\n") == 1, finished.stderr
        missing = finished.stderr.split("refused: its sandbox lacks ", 1)[-1]
        assert all(name in missing for name in ("allowlist root", "network namespace", "PID namespace")), \
            finished.stderr
        assert "--allow-weak-sandbox" in finished.stderr
        assert not (course / "reports").exists()
        with ClusterGrader.connect(cluster.address, allow_weak_sandbox=True) as grader:
            assert len(grader.workers) == 1


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    course = _course(tmp_path, {"release": nbformat.read(RELEASE, as_version=4)})
    address = f"tcp://127.0.0.1:{free_port()}"
    quick = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}  # Dask's own setting; 30 s by default
    finished = _course_cli(course, "--scheduler", address, environment=quick)
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert f"cannot reach the Dask scheduler at {address}" in finished.stderr

