import numpy as np
import pytest

REQUEST = {"sizes": [4, 1]}


def lower_triangle(size: int) -> np.ndarray:
    return np.array([[key <= query for key in range(size)] for query in range(size)])


@pytest.mark.weight(3)
def test_mask_of_four_is_the_lower_triangle(student):
    mask = student["mask_0"]
    if mask.dtype != bool or not np.array_equal(mask, lower_triangle(4)):
        pytest.fail(f"expected the 4x4 lower triangle of True, got {mask.tolist()}", pytrace=False)


def test_mask_of_one_is_true(student):
    assert np.array_equal(student["mask_1"], lower_triangle(1)), f"expected [[True]], got {student['mask_1']}"
