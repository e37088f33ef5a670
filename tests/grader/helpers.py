"""Helpers of the grader's tests: notebooks written on the fly, the test-only probes and suites, short limits."""

import json
from pathlib import Path

from course.grading.sandbox import Limits

HERE = Path(__file__).resolve().parent
PROBES = HERE / "probes"
SUITES = HERE / "suites"
LIMITS = Limits(seconds=5, cpu_seconds=4, memory_mb=1024, file_mb=2)


GOOD_CODE = '''
import numpy as np


def causal_mask(n):
    return np.tril(np.ones((n, n), dtype=bool))


class CharTokenizer:
    def fit(self, text):
        self.stoi = {c: i for i, c in enumerate(sorted(set(text)))}
        return self

    def encode(self, text):
        return [self.stoi[c] for c in text]
'''

# Forges a pass every way known from in-process graders; must gain nothing here.
FORGERY = '''
import gc, sys, traceback
import numpy as np

# Make every comparison pass and every failure invisible, then look for expected values in memory.
np.array_equal = np.allclose = lambda *args, **kwargs: True
np.testing.assert_array_equal = np.testing.assert_allclose = lambda *args, **kwargs: None
traceback.print_exception = traceback.print_exc = lambda *args, **kwargs: None
sys.excepthook = lambda *args: None


def causal_mask(n):
    found = [obj for obj in gc.get_objects() if isinstance(obj, dict) and "expected" in obj]
    return np.zeros((n, n)) if not found else found[0]["expected"]


class CharTokenizer:
    def fit(self, text):
        import os
        os._exit(0)
'''


def write_notebook(path: Path, *cells: str) -> Path:
    """A minimal nbformat-4 notebook with these code cells (plain JSON: importing nbformat is slow)."""
    code = [{"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
            for source in cells]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": code}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook))
    return path
