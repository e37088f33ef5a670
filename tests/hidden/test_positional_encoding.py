"""Hidden tests for PositionalEncoding."""

import math

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal, expect_raised

MAX_LEN, D_MODEL, T = 16, 6, 5
rng = np.random.default_rng(11)
REQUEST = {
    "max_len": MAX_LEN,
    "d_model": D_MODEL,
    "x": rng.normal(size=(2, T, D_MODEL)).astype(np.float32),  # (B, T, D)
    "x_too_long": np.zeros((1, MAX_LEN + 1, D_MODEL), dtype=np.float32),
}


def closed_form(position: int, column: int) -> float:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))."""
    two_i = column - column % 2
    angle = position / 10000 ** (two_i / D_MODEL)
    return math.sin(angle) if column % 2 == 0 else math.cos(angle)


EXPECTED = np.array([[closed_form(p, j) for j in range(D_MODEL)] for p in range(MAX_LEN)])  # (max_len, D)


@pytest.mark.weight(3)
def test_table_matches_the_closed_form_everywhere(student):
    expect_close(student["table"], EXPECTED, f"pe of PositionalEncoding({MAX_LEN}, {D_MODEL})")


@pytest.mark.weight(2)
def test_even_columns_are_sines_and_odd_columns_cosines(student):
    pe = np.asarray(student["table"])
    expect_equal(pe.shape, (MAX_LEN, D_MODEL), "shape of pe")
    for (p, j), value in {(1, 0): math.sin(1), (1, 1): math.cos(1), (0, 1): 1.0, (7, 0): math.sin(7),
                          (3, 4): math.sin(3 / 10000 ** (4 / 6)), (5, 5): math.cos(5 / 10000 ** (4 / 6)),
                          (9, 2): math.sin(9 / 10000 ** (2 / 6)), (9, 3): math.cos(9 / 10000 ** (2 / 6))}.items():
        expect_close(pe[p, j], value, f"PE[{p}, {j}]")


@pytest.mark.weight(2)
def test_forward_adds_the_first_t_rows_to_the_input(student):
    expected = REQUEST["x"] + EXPECTED[:T]  # (B, T, D): added, not concatenated
    expect_close(student["forward"], expected, f"forward(x) for x of shape {REQUEST['x'].shape}")


def test_longer_than_max_len_raises_value_error(student):
    expect_raised(student["too_long"], "ValueError", f"forward(x) with T = {MAX_LEN + 1} > max_len = {MAX_LEN}")


def test_has_no_trainable_parameters(student):
    count = student["parameter_count"]
    expect(count == 0, f"PositionalEncoding should have no parameters (pe is a fixed array), found {count}")
