"""Hidden tests for causal_mask (lengths unlike the notebook's checks, 1, 3 and 64).

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring).
"""

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_equal

REQUEST = {"lengths": [2, 4, 5, 7]}


def _masks_are_lower_triangles(student) -> None:
    masks = student["masks"]
    for n in REQUEST["lengths"]:
        expected = np.tril(np.ones((n, n), dtype=bool))
        expect_equal(np.asarray(masks[str(n)]).astype(bool), expected, f"causal_mask({n}) (True = may attend)")


@pytest.mark.weight(3)
def test_mask_is_lower_triangular_including_the_diagonal(student):
    """Contract: True where query i may attend to key j (j <= i)"""
    _masks_are_lower_triangles(student)


@pytest.mark.weight(2)
def test_true_means_query_may_attend_to_key(student):
    """Contract: The one mask convention of the course: True = may attend."""
    mask = np.asarray(student["masks"]["4"])
    expect_equal(mask.shape, (4, 4), "shape of causal_mask(4)")
    expect(bool(mask[3, 0]) and bool(mask[2, 2]) and not bool(mask[0, 3]) and not bool(mask[1, 2]),
           "causal_mask(4): query 3 may attend to key 0 (mask[3, 0] True), query 2 to itself, and query 0 may not "
           f"see the future key 3 (mask[0, 3] False); got\n{mask}")


def test_returns_a_numpy_bool_array(student):
    """Contract: `causal_mask(seq_len) -> np.ndarray` bool (T, T)"""
    _masks_are_lower_triangles(student)
    kind = student["kind"]
    expect(kind["type"] == "numpy.ndarray" and kind["dtype"] == "bool",
           f"causal_mask should return a numpy.ndarray of dtype bool, got {kind['type']} of dtype {kind['dtype']}")
