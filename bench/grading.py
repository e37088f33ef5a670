"""Time grading: one submission end to end, and a class of submissions with `grade_course`.

    .venv/bin/python -m bench.grading                    # 3 single runs, then 20 students, 2 jobs
    .venv/bin/python -m bench.grading --students 6 --runs 1 --no-nbgrader

Works in a temporary course folder built from `source/tinygpt/tinygpt.ipynb` (nbgrader release and
gradebook included). Single runs grade the reference submission with `grade_notebook` (sandboxed probes
and all twelve hidden suites); the class mixes reference, partial and untouched submissions and goes
through `grade_course` (reports, and with nbgrader the gradebook, feedback and export). The machine's
load average is printed too: the figures mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from course.grading.batch import grade_course
from course.grading.gradebook import nbgrader_config
from course.grading.harness import grade_notebook
from course.grading.report import format_table
from course.submissions import fill_release, write_submission

REPO = Path(__file__).resolve().parents[1]
PARTIAL = {"tokenizer_code", "positional_encoding_code", "causal_mask_code", "layer_norm_code"}  # solved cells


def build_course(folder: Path, students: int) -> Path:
    """A course folder with the release generated and `students` submissions; returns the reference notebook."""
    from nbgrader.apps import NbGraderAPI

    shutil.copytree(REPO / "source", folder / "source")
    result = NbGraderAPI(config=nbgrader_config(folder, folder / "reports" / "tinygpt")).generate_assignment("tinygpt")
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment failed: {result.get('error')}")
    release, source = folder / "release" / "tinygpt" / "tinygpt.ipynb", folder / "source" / "tinygpt" / "tinygpt.ipynb"
    kinds = [fill_release(release, source), fill_release(release, source, PARTIAL),
             fill_release(release, source, set())]
    for number in range(students):
        write_submission(kinds[number % len(kinds)], folder / "submitted", f"student{number:02d}")
    return folder / "submitted" / "student00" / "tinygpt" / "tinygpt.ipynb"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: a figure the machine's load does not inflate."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                          resource.RUSAGE_CHILDREN)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="single-submission runs (median reported)")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-nbgrader", action="store_true", help="skip the gradebook, feedback and export")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temporary:
        reference = build_course(Path(temporary), args.students)
        singles, cpu = [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), cpu_seconds()
            report = grade_notebook(reference, "reference")
            singles.append(time.perf_counter() - started)
            cpu.append(cpu_seconds() - started_cpu)
        print(f"one submission (reference, {report.total:g} points): median {statistics.median(singles):.1f} s "
              f"over {args.runs} runs (min {min(singles):.1f} s, max {max(singles):.1f} s), "
              f"{statistics.median(cpu):.1f} CPU seconds")
        started, started_cpu = time.perf_counter(), cpu_seconds()
        reports = grade_course(Path(temporary), jobs=args.jobs, progress=True, nbgrader=not args.no_nbgrader)
        seconds, cpu_total = time.perf_counter() - started, cpu_seconds() - started_cpu
        print(format_table(reports[:3]))
        print(f"{len(reports)} submissions with {args.jobs} jobs{'' if args.no_nbgrader else ' and nbgrader'}: "
              f"{seconds:.1f} s, {seconds / len(reports):.1f} s per submission, "
              f"{cpu_total / len(reports):.1f} CPU seconds per submission")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
