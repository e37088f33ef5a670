"""Comparisons for the hidden suites: each failure says what was expected and what came back.

They fail with `pytest.fail(message, pytrace=False)`, so a student's feedback carries the message
only, never the test's code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

SMALL = 36  # arrays with at most this many entries are shown whole


def fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


def _show(values: np.ndarray) -> str:
    if values.size <= SMALL:
        return np.array2string(values, precision=5, separator=", ").replace("\n", "")
    return f"an array of shape {values.shape}"


def _as_array(value: Any, what: str) -> np.ndarray:
    if value is None:
        fail(f"{what}: expected an array, got None")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what}: expected numbers, got {type(value).__name__}")


def expect_shape(actual: Any, shape: tuple[int, ...], what: str) -> None:
    actual_shape = np.shape(actual)
    if tuple(actual_shape) != tuple(shape):
        fail(f"{what}: expected shape {tuple(shape)}, got {tuple(actual_shape)}")


def expect_close(actual: Any, expected: Any, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Same shape, and every entry within atol + rtol * |expected|."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = _as_array(actual, what)
    expect_shape(actual, expected.shape, what)
    for values, whose in ((actual, "got"), (expected, "compared with")):  # NaN never passes, not even vs NaN
        if not np.all(np.isfinite(values)):
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            fail(f"{what}: {whose} a non-finite value {values[where]} at position {where} (values must be finite)")
    excess = np.abs(actual - expected) - (atol + rtol * np.abs(expected))
    if np.any(excess > 0):
        where = np.unravel_index(int(np.argmax(excess)), excess.shape)
        position = tuple(int(i) for i in where)
        shown = (f"expected {_show(expected)}, got {_show(actual)}" if expected.size <= SMALL
                 else f"values of shape {expected.shape} differ")
        fail(f"{what}: {shown}; max abs difference {np.max(np.abs(actual - expected)):.3g}, "
             f"worst at position {position}: "
             f"expected {expected[where]:.6g}, got {actual[where]:.6g} (tolerance {atol:g} + {rtol:g} x |expected|)")


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    """Exact equality of plain values (ids, strings, shapes, bool arrays)."""
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        actual_array, expected = np.asarray(actual), np.asarray(expected)
        expect_shape(actual_array, expected.shape, what)
        if not np.array_equal(actual_array, expected):
            where = tuple(int(i) for i in np.argwhere(actual_array != expected)[0])
            fail(f"{what}: expected {_show(np.asarray(expected))}, got {_show(actual_array)}; "
                 f"first difference at position {where}: expected {expected[where]}, got {actual_array[where]}")
    elif actual != expected:
        fail(f"{what}: expected {expected!r}, got {actual!r}")


def expect_raised(outcome: dict[str, Any], exception: str, what: str, mentions: tuple[str, ...] = ()) -> None:
    """The probe's {"raised", "message"} record shows `exception`, with a message naming `mentions`.

    Call it after checking that the same object works on valid input: raising alone earns nothing.
    """
    if outcome["raised"] is None:
        fail(f"{what}: expected {exception}, but nothing was raised")
    if outcome["raised"] != exception:
        fail(f"{what}: expected {exception}, got {outcome['raised']}: {outcome['message']}")
    missing = [word for word in mentions if word not in outcome["message"]]
    if missing:
        fail(f"{what}: the {exception} message should mention {', '.join(map(repr, missing))}; "
             f"it says: {outcome['message']!r}")


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)
