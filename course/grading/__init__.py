"""Grading: the student's code runs only in a sandboxed child; scores are computed and recorded here.

- `sandbox`, `sandbox_child`: run a probe (`probes/<component>.py`) on a notebook's definitions in a
  limited child process and bring back plain data.
- `pytest_plugin`: the hidden suites' fixtures and the per-test record (`tests/hidden/`).
- `intake`: what a submission is before anything else reads it (folder, file, notebook JSON): valid, or a reason.
- `harness`: one submission's `report.SubmissionReport` from the hidden suites.
- `batch`: a whole course: harness, saved reports, grade tables, then `gradebook` (one grader per folder: `locks`).
- `nbgrader_hooks`: nbgrader's autograde made the harness (nbgrader_config.py plugs it in); `structure`: a
  submission's nbgrader cells made the release's; `gradebook`, `database`: the same scores in nbgrader's
  gradebook, feedback and export, wherever the gradebook lives; `exchange`: nbgrader's collect and
  release_feedback for a notebook saved under another name.
"""
