"""Test-only probes: small stand-ins for course/probes, so the grader's tests do not depend on them."""
