"""Test-only probes: small stand-ins for course/grading/probes, so the grader's tests do not depend on them."""
