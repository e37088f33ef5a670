"""Hidden tests for PositionalEncoding (sizes unlike the notebook's checks, 50 x 6).

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring); the checks of an
error, of the parameter count, of the type of `pe` and of gradients count only when the same encoding also has
the right table or output.
"""

import math

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal, expect_raised

MAX_LEN, D_MODEL, T = 12, 10, 5
ODD_MAX_LEN, ODD_D_MODEL = 9, 7  # an odd d_model: one more sine column than cosines
rng = np.random.default_rng(11)
REQUEST = {
    "sizes": [MAX_LEN, D_MODEL],
    "odd_sizes": [ODD_MAX_LEN, ODD_D_MODEL],
    "x": rng.normal(size=(2, T, D_MODEL)).astype(np.float32),  # (B, T, D)
    "x_full": rng.normal(size=(3, MAX_LEN, D_MODEL)).astype(np.float32),  # T = max_len
    "upstream": rng.normal(size=(3, MAX_LEN, D_MODEL)).astype(np.float32),
    "x_too_long": rng.normal(size=(1, MAX_LEN + 2, D_MODEL)).astype(np.float32),
}


def closed_form(position: int, column: int, d_model: int = D_MODEL) -> float:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))."""
    two_i = column - column % 2
    angle = position / 10000 ** (two_i / d_model)
    return math.sin(angle) if column % 2 == 0 else math.cos(angle)


def closed_form_table(max_len: int, d_model: int) -> np.ndarray:
    return np.array([[closed_form(p, j, d_model) for j in range(d_model)] for p in range(max_len)])  # (max_len, D)


EXPECTED = closed_form_table(MAX_LEN, D_MODEL)
TABLE_WHAT = f"pe of PositionalEncoding({MAX_LEN}, {D_MODEL})"


@pytest.mark.weight(3)
def test_table_matches_the_closed_form_everywhere(student):
    """Contract: PE[p, 2i] = sin(p / 10000^(2i/d_model)), PE[p, 2i+1] = cos(p / 10000^(2i/d_model))"""
    expect_close(student["table"], EXPECTED, TABLE_WHAT)


def test_table_for_an_odd_d_model(student):
    """Contract: (any d_model: an odd one ends with a sine column)"""
    expect_close(student["odd_table"], closed_form_table(ODD_MAX_LEN, ODD_D_MODEL),
                 f"pe of PositionalEncoding({ODD_MAX_LEN}, {ODD_D_MODEL}) (an odd d_model: the last column is a sine)")


@pytest.mark.weight(2)
def test_even_columns_are_sines_and_odd_columns_cosines(student):
    """Contract: `pe` float32 array (max_len, d_model)"""
    pe = np.asarray(student["table"])
    expect_equal(pe.shape, (MAX_LEN, D_MODEL), "shape of pe")
    expect_equal(str(pe.dtype), "float32", "dtype of pe")
    for p, j in ((1, 0), (1, 1), (0, 1), (7, 0), (3, 4), (5, 5), (9, 2), (9, 3), (11, 8), (11, 9)):
        kind = "sin" if j % 2 == 0 else "cos"
        expect_close(pe[p, j], closed_form(p, j), f"PE[{p}, {j}] = {kind}({p} / 10000^({j - j % 2}/{D_MODEL}))")


def test_pe_is_a_numpy_array(student):
    """Contract: `pe` float32 array (max_len, d_model) (a NumPy array, not a Tensor)"""
    result = student["kind"]
    expect_close(result["table"], EXPECTED, f"{TABLE_WHAT} (its type is checked on a right table)")
    expect_equal(result["type"], "numpy.ndarray", "type of pe (a NumPy array, not a Tensor: it is no parameter)")


@pytest.mark.weight(2)
def test_forward_adds_the_first_t_rows_to_the_input(student):
    """Contract: `forward(x)` with x (B, T, D) returns x + pe[:T]"""
    expected = REQUEST["x"] + EXPECTED[:T]  # (B, T, D): added, not concatenated
    expect_close(student["forward"], expected, f"forward(x) for x of shape {REQUEST['x'].shape}")


@pytest.mark.weight(2)
def test_forward_works_up_to_max_len_and_passes_the_gradient_to_x(student):
    """Contract: returns x + pe[:T] for every T <= max_len, as a Tensor through which the gradient reaches x"""
    result = student["full_length_with_gradient"]
    expect_close(result["out"], REQUEST["x_full"] + EXPECTED, f"forward(x) for T = max_len = {MAX_LEN}")
    expect_close(result["x_grad"], REQUEST["upstream"], "gradient of x after forward(x) (x + pe passes the gradient "
                 "arriving at the output on to x unchanged; None means the graph was cut)")


def test_longer_than_max_len_raises_value_error(student):
    """Contract: T > max_len raises `ValueError`."""
    result = student["too_long"]
    expect_close(result["valid"], REQUEST["x"] + EXPECTED[:T], "forward(x) of the same encoding on a valid x "
                 "(raising counts only if it also works)")
    expect_raised(result, "ValueError", f"forward(x) with T = {MAX_LEN + 2} > max_len = {MAX_LEN}")


def test_has_no_trainable_parameters(student):
    """Contract: `PositionalEncoding(max_len, d_model)` (a Module without parameters)"""
    result = student["parameter_count"]
    expect_close(result["table"], EXPECTED, f"{TABLE_WHAT} (the count is checked on an encoding with the right table)")
    expect(result["count"] == 0, f"PositionalEncoding should have no parameters (pe is a fixed array), "
           f"found {result['count']}")
