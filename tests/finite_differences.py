"""The one finite-difference helper of the test suite: autograd (or a student's returned gradient) against
central differences in float64.

The output is reduced to a scalar with fixed random weights, so every output element's gradient is checked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tinytorch as tt
from tinytorch import Tensor


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d array by central differences, nudging `array` in place one element at a time."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = f()
        array[index] = original - eps
        minus = f()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(
    fn: Callable[..., Tensor], *inputs: np.ndarray, atol: float = 1e-6, rtol: float = 1e-5, seed: int = 0
) -> None:
    """Assert that autograd's gradients of fn(*inputs) match finite differences for every input."""
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert out.dtype == np.float64, f"float64 inputs gave a {out.dtype} output"
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(np.asarray(weights))

    def weighted_output() -> float:
        with tt.no_grad():
            return float(np.sum(fn(*[Tensor(a) for a in arrays]).data * weights))

    for i, (array, tensor) in enumerate(zip(arrays, tensors, strict=True)):
        assert tensor.grad is not None, f"input {i} got no gradient"
        assert tensor.grad.shape == array.shape and tensor.grad.dtype == np.float64
        expected = numerical_gradient(weighted_output, array)
        np.testing.assert_allclose(tensor.grad, expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
