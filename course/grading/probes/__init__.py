"""Child-side probes: one module per graded component, run inside the sandbox on the student's code.

Each `probes.<component id>` module has `CASES: dict[str, Callable[[dict, dict], Any]]`; the sandbox
calls `case(ns, request)` with `ns` the student's notebook namespace (the module globals their
functions see) and `request` the plain-data request of the hidden suite. A case returns plain data
(NumPy arrays, numbers, bools, strings, None, lists/dicts of those): what the student's code
computed. Probes hold no expected values; every comparison happens in the trusted test process.

Probes import only numpy, tinytorch and this package (relative imports: the sandbox copies this
folder as the top-level package `probes`, the tests import it as `course.grading.probes`).
"""
