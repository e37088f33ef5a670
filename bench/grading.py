"""Time grading: one submission end to end, and a class of submissions with `grade_course`.

    .venv/bin/python -m bench.grading                    # 5 single runs each way, then 20 students, 2 jobs
    .venv/bin/python -m bench.grading --students 6 --runs 3 --no-nbgrader
    .venv/bin/python -m bench.grading --students 0 --worst   # also the worst case: an endless loop at load time

Works in a temporary course folder built from `source/tinygpt/tinygpt.ipynb` (nbgrader release and
gradebook included). Single runs grade the reference submission with `grade_notebook` (sandboxed probes
and all twelve hidden suites), alternating two ways: one sandbox server per submission (what grading
does) and, as the baseline in the same run, a fresh server per component (COURSE_SANDBOX_PER_COMPONENT,
how grading worked before: Python, numpy, tinytorch and the probes loaded twelve times). The figure is
CPU time (this process and all its children), which a busy machine inflates far less than wall time.
The class mixes reference, partial and untouched submissions and goes through `grade_course` (reports,
and with nbgrader the gradebook, feedback and export). The machine's load average is printed too.
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

import nbformat

from course.grading.batch import grade_course
from course.grading.gradebook import nbgrader_config
from course.grading.harness import grade_notebook
from course.grading.report import format_table
from course.grading.sandbox import PER_COMPONENT_VARIABLE, Limits
from course.submissions import fill_release, with_appended_code, write_submission

REPO = Path(__file__).resolve().parents[1]
STALL = "def _forever():\n    while True:\n        pass\n\n\nSTALL = _forever()\n"  # never finishes loading
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
    return write_submission(kinds[0], folder / "single", "reference")


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: a figure the machine's load does not inflate."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                          resource.RUSAGE_CHILDREN)))


def grade_once(notebook: Path, per_component: bool) -> tuple[float, float, float]:
    """(wall s, CPU s, points) of grading `notebook` once, with a shared or a per-component sandbox server."""
    if per_component:
        os.environ[PER_COMPONENT_VARIABLE] = "1"
    try:
        started, started_cpu = time.perf_counter(), cpu_seconds()
        report = grade_notebook(notebook, "reference")
        return time.perf_counter() - started, cpu_seconds() - started_cpu, report.total
    finally:
        os.environ.pop(PER_COMPONENT_VARIABLE, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="single-submission runs each way (median reported)")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-nbgrader", action="store_true", help="skip the gradebook, feedback and export")
    parser.add_argument("--worst", action="store_true", help="also grade a submission that never finishes loading")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temporary:
        reference = build_course(Path(temporary), args.students)
        figures: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        for _ in range(args.runs):  # alternate, so that a change in the machine's load hits both alike
            for per_component in (False, True):
                figures[per_component].append(grade_once(reference, per_component))
        for per_component, label in ((False, "one server per submission"), (True, "baseline, one per component")):
            wall, cpu, points = zip(*figures[per_component], strict=True)
            print(f"one submission ({points[0]:g} points), {label}: median {statistics.median(cpu):.2f} CPU s "
                  f"(min {min(cpu):.2f}, max {max(cpu):.2f}), median {statistics.median(wall):.1f} s wall, "
                  f"{args.runs} runs")
        ratio = statistics.median(c for _, c, _ in figures[False]) / statistics.median(c for _, c, _ in figures[True])
        print(f"CPU ratio shared / per-component server: {ratio:.2f}")
        if args.worst:
            stalled = Path(temporary) / "stalled.ipynb"
            nbformat.write(with_appended_code(nbformat.read(reference, as_version=4), STALL), stalled)
            wall, cpu, points = grade_once(stalled, per_component=False)
            print(f"worst submission (endless loop while loading, {points:g} points): {wall:.1f} s wall, "
                  f"{cpu:.1f} CPU s (the loop itself burns CPU until the {Limits().seconds:g} s wall clock)")
        if args.students:
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
