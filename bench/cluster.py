"""Grading throughput on a Dask cluster: the same submissions with 1 and with 2 workers on this machine.

    .venv/bin/python -m bench.cluster                       # 20 submissions, 1 then 2 workers, 1 run each
    .venv/bin/python -m bench.cluster --submissions 6 --runs 3

Starts a real `dask scheduler` and `dask worker --nworkers 1 --nthreads 1` processes on 127.0.0.1 (as the
tests do), grades a temporary course (reference, untouched and partial submissions in turn) through
`grade_course` with a `ClusterGrader` (reports only, no gradebook), and prints per configuration: the
median wall time, submissions per second, per-worker throughput, and the CPU seconds the workers spent
per submission (their whole process trees: harness, pytest, sandboxes). From the 1-worker figure it
projects the wall time of N submissions on W workers (`--project 1000 50`), assuming each worker has a
core of its own like here and the scheduler is not the bottleneck (it hands out one small task per
submission). The load average is printed: the figures mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil
from distributed import Client

from course.grading.batch import grade_course
from course.grading.cluster import ClusterGrader
from course.submissions import fill_release, write_submission
from tests.cluster.dask_cluster import local_cluster

REPO = Path(__file__).resolve().parents[1]
PARTIAL = {"tokenizer_code", "positional_encoding_code", "causal_mask_code", "layer_norm_code"}  # solved cells


def build_course(folder: Path, submissions: int) -> Path:
    shutil.copytree(REPO / "source", folder / "source")
    release, source = REPO / "release" / "tinygpt" / "tinygpt.ipynb", REPO / "source" / "tinygpt" / "tinygpt.ipynb"
    kinds = [fill_release(release, source), fill_release(release, source, PARTIAL),
             fill_release(release, source, set())]
    for number in range(submissions):
        write_submission(kinds[number % len(kinds)], folder / "submitted", f"student{number:03d}")
    return folder


def tree_cpu(processes: list[psutil.Process]) -> float:
    """CPU seconds of these processes and their finished children (still-running children not counted)."""
    total = 0.0
    for process in processes:
        for member in [process, *process.children(recursive=True)]:
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system + times.children_user + times.children_system
    return total


def one_run(folder: Path, submissions: int, workers: int) -> tuple[float, float]:
    """(wall seconds, worker CPU seconds) to grade `submissions` on a fresh cluster of `workers`."""
    course = build_course(folder / "course", submissions)
    with local_cluster(folder / "dask", {f"w{i}": None for i in range(workers)}) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            cluster.wait_for_workers(client, workers)
        processes = [psutil.Process(p.pid) for p in cluster.workers.values()]
        with ClusterGrader.connect(cluster.address) as grader:
            cpu_before, started = tree_cpu(processes), time.perf_counter()
            reports = grade_course(course, nbgrader=False, progress=False, grader=grader)
            wall, cpu = time.perf_counter() - started, tree_cpu(processes) - cpu_before
        if grader.lost or len(reports) != submissions:
            raise RuntimeError(f"lost submissions: {grader.lost}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1, help="runs per configuration (median reported)")
    parser.add_argument("--workers", type=int, nargs="+", default=(1, 2), help="cluster sizes to run")
    parser.add_argument("--project", type=int, nargs=2, default=(1000, 50), metavar=("SUBMISSIONS", "WORKERS"))
    args = parser.parse_args()
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    per_worker = {}
    for workers in args.workers:
        walls, cpus = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
                wall, cpu = one_run(Path(scratch), args.submissions, workers)
            walls.append(wall)
            cpus.append(cpu)
        wall = statistics.median(walls)
        per_worker[workers] = args.submissions / wall / workers
        print(f"{workers} worker(s): {args.submissions} submissions in {wall:.1f} s (runs: "
              f"{', '.join(f'{w:.1f}' for w in walls)}), {args.submissions / wall:.3f} submissions/s, "
              f"{per_worker[workers]:.3f} per worker per s, {statistics.median(cpus) / args.submissions:.1f} "
              f"CPU s per submission; load average now {os.getloadavg()[0]:.1f}")
    if {1, 2} <= set(per_worker):
        print(f"speed-up 1 -> 2 workers: {per_worker[2] * 2 / per_worker[1]:.2f}x")
    total, workers = args.project
    rounds, smallest = math.ceil(total / workers), min(per_worker)
    print(f"projection: {total} submissions on {workers} workers = {rounds} per worker x "
          f"{1 / per_worker[smallest]:.1f} s = {rounds / per_worker[smallest] / 60:.1f} min (assumes each worker has "
          f"a core of its own, as the {smallest}-worker run here, and a scheduler that keeps up)")


if __name__ == "__main__":
    main()
