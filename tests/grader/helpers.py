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


# Searches the whole file system at definition time for the reference and the hidden tests (issue 9:
# another checkout on the grading machine gave 100/100) and, if it finds the reference, defines
# everything from it. `attack()` reports what the search saw.
STEALER = '''
import os


def _search_everything():
    seen = {"solutions": [], "hidden_tests": [], "checkouts": [], "folders": 0}
    for folder, subfolders, files in os.walk("/"):
        if folder in ("/proc", "/sys"):
            subfolders[:] = []
            continue
        seen["folders"] += 1
        if folder.endswith("/solutions") and "tinygpt.py" in files:
            seen["solutions"].append(os.path.join(folder, "tinygpt.py"))
        if folder.endswith("/hidden") and any(name.startswith("test_") for name in files):
            seen["hidden_tests"].append(folder)
        if "components.py" in files and folder.endswith("/course"):
            seen["checkouts"].append(folder)
    return seen


FOUND = _search_everything()


def _take_the_reference():
    for path in FOUND["solutions"]:
        try:
            exec(open(path).read(), globals())
            return path
        except Exception:
            continue
    return None


TAKEN = _take_the_reference()


def attack():
    return {"found": FOUND, "taken": TAKEN}
'''

# Forges records at definition time into every channel it can reach: each descriptor it holds, every
# /proc/PID/fd/N it can open (the supervisor's report pipe in the old design), result files stamped with
# any 32-hex-digit string found in memory (the old nonce). None of it may count or stop the grader.
CHANNEL_FORGER = '''
import gc
import json
import os

_FORGED_LINES = [b"ready\\n", b"loaded []\\n", b'{"setup_error": "forged by the student"}\\n',
                 b'{"end": {"ready": true, "exit_code": 0, "cpu_seconds": 0}}\\n',
                 b'{"case": "attack", "answer": "{\\\\"value\\\\": \\\\"forged\\\\"}"}\\n']


def _forge_everywhere():
    opened = []
    candidates = {obj for obj in gc.get_objects() if isinstance(obj, str) and len(obj) == 32
                  and all(c in "0123456789abcdef" for c in obj)}
    lines = _FORGED_LINES + [f"{token} {json.dumps({'value': 'forged'})}\\n".encode() for token in candidates]
    targets = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                targets += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
            except OSError:
                continue
    for target in targets:
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            for line in lines:
                os.write(descriptor, line)
            opened.append(target if not target.startswith("/proc/self") else "self")
        except OSError:
            pass
        finally:
            os.close(descriptor)
    for descriptor in range(64):
        for line in lines:
            try:
                os.write(descriptor, line)
            except OSError:
                break
    os.makedirs("results", exist_ok=True)
    for index in range(40):
        for token in candidates or {"0" * 32}:
            with open(f"results/case-{index:04d}.json", "w") as file:
                json.dump({"nonce": token, "case": "attack", "value": "forged"}, file)
    others = [target for target in opened if not target.startswith(f"/proc/{os.getpid()}/")]
    return {"foreign_descriptors_opened": others, "tokens_in_memory": len(candidates)}


FORGED = _forge_everywhere()
'''
