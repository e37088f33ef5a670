"""The fused ops of `course train` (course/fused.py): values against closed forms and against the composition
of tinytorch primitives, gradients against finite differences (float64), errors."""

import numpy as np
import pytest

import tinytorch as tt
from course.fused import layer_norm, scaled_dot_product_attention
from tests.finite_differences import check_gradients
from tinytorch import Tensor

rng = np.random.default_rng(1)


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 6)])
def test_layer_norm_values_and_gradients(shape):
    x = rng.standard_normal(shape) * 3 + 1
    d = shape[-1]
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    plain = layer_norm(Tensor(x), Tensor(np.ones(d)), Tensor(np.zeros(d))).data
    np.testing.assert_allclose(plain.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(plain.var(axis=-1), 1, rtol=1e-4)  # slightly below 1 because of eps
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(layer_norm(Tensor(x), Tensor(gamma), Tensor(beta)).data, expected, rtol=1e-10)
    check_gradients(lambda a, g, b: layer_norm(a, g, b), x, gamma, beta, atol=1e-5)


def test_layer_norm_checks_gamma_and_beta_shapes():
    with pytest.raises(ValueError, match=r"gamma \(3,\).*\(4,\)"):
        layer_norm(Tensor(np.ones((2, 4))), Tensor(np.ones(3)), Tensor(np.zeros(3)))


def test_layer_norm_keeps_float32():
    x = Tensor(rng.standard_normal((2, 3, 4)), dtype=np.float32, requires_grad=True)
    gamma = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    out = layer_norm(x, gamma, Tensor(np.zeros(4, dtype=np.float32)))
    out.sum().backward()
    assert out.dtype == x.grad.dtype == gamma.grad.dtype == np.float32


def composed_attention(q, k, v, mask):
    """The unfused composition: matmul, scale, masked_fill, softmax, matmul."""
    scores = (q @ k.transpose(-2, -1)) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -np.inf)
    weights = scores.softmax(axis=-1)
    return weights @ v, weights


ATTENTION_CASES = {  # q, k, v shapes and the mask's (None, a causal (T, S), or a full (..., T, S) one)
    "no mask": ((2, 3, 4), (2, 5, 4), (2, 5, 3), None),
    "causal, broadcast over batch and heads": ((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 5), "causal"),
    "per-batch mask, shared keys": ((2, 3, 4), (5, 4), (5, 2), "random"),
}


def attention_case(name):
    q_shape, k_shape, v_shape, mask_kind = ATTENTION_CASES[name]
    q, k, v = rng.standard_normal(q_shape), rng.standard_normal(k_shape), rng.standard_normal(v_shape)
    mask = None
    if mask_kind == "causal":
        mask = np.tril(np.ones((q_shape[-2], k_shape[-2]), dtype=bool))
    elif mask_kind == "random":
        mask = rng.random((q_shape[0], q_shape[-2], k_shape[-2])) < 0.6
        mask[..., 0] = True  # every query may attend to at least one key
    return q, k, v, mask


def independent_attention(q, k, v, mask):
    """Plain NumPy: out and weights."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


@pytest.mark.parametrize("name", sorted(ATTENTION_CASES))
def test_fused_attention_values_match_numpy_and_the_composition(name):
    q, k, v, mask = attention_case(name)
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask)
    expected_out, expected_weights = independent_attention(q, k, v, mask)
    np.testing.assert_allclose(weights.data, expected_weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.data, expected_out, rtol=1e-12)
    if mask is not None:
        assert np.all(weights.data[np.broadcast_to(~mask, weights.shape)] == 0)
    tensors = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    twins = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    upstream = rng.standard_normal(out.shape)
    scaled_dot_product_attention(*tensors, mask)[0].backward(upstream)
    composed_attention(*twins, mask)[0].backward(upstream)
    for fused, composed in zip(tensors, twins, strict=True):
        np.testing.assert_allclose(fused.grad, composed.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ATTENTION_CASES))
def test_fused_attention_gradients_by_finite_differences(name):
    q, k, v, mask = attention_case(name)
    check_gradients(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], q, k, v)


def test_fused_attention_float32_no_grad_and_errors():
    q = Tensor(rng.standard_normal((2, 4, 8)), dtype=np.float32, requires_grad=True)
    out, weights = scaled_dot_product_attention(q, q, q, np.tril(np.ones((4, 4), dtype=bool)))
    assert out.dtype == weights.dtype == np.float32 and out.requires_grad and not weights.requires_grad
    with tt.no_grad():
        quiet_out, quiet_weights = scaled_dot_product_attention(q, q, q)
    assert not quiet_out.requires_grad and quiet_weights.shape == (2, 4, 4)
    with pytest.raises(ValueError, match="do not fit"):
        scaled_dot_product_attention(q, Tensor(np.zeros((2, 4, 7))), q)
    with pytest.raises(TypeError, match="bool array"):
        scaled_dot_product_attention(q, q, q, np.ones((4, 4)))
