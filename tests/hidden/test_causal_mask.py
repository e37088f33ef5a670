"""Hidden tests for causal_mask."""

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_equal

REQUEST = {"lengths": [1, 2, 3, 5]}


@pytest.mark.weight(3)
def test_mask_is_lower_triangular_including_the_diagonal(student):
    masks = student["masks"]
    for n in REQUEST["lengths"]:
        expected = np.tril(np.ones((n, n), dtype=bool))
        expect_equal(np.asarray(masks[str(n)]).astype(bool), expected, f"causal_mask({n}) (True = may attend)")


@pytest.mark.weight(2)
def test_true_means_query_may_attend_to_key(student):
    mask = np.asarray(student["masks"]["3"])
    expect(bool(mask[2, 0]) and not bool(mask[0, 2]),
           "causal_mask(3): query 2 may attend to key 0 (mask[2, 0] True) and query 0 may not see the "
           f"future key 2 (mask[0, 2] False); got mask[2, 0] = {mask[2, 0]}, mask[0, 2] = {mask[0, 2]}")


def test_returns_a_numpy_bool_array(student):
    kind = student["kind"]
    expect(kind["type"] == "numpy.ndarray" and kind["dtype"] == "bool",
           f"causal_mask should return a numpy.ndarray of dtype bool, got {kind['type']} of dtype {kind['dtype']}")
